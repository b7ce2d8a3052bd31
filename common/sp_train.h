/* Training of a DTI-Sprites model: the reference's training step
 * (Trainer.single_train_batch_run over DTISprites.forward in training mode,
 * src/trainer.py and src/model/dti_sprites.py) and what its loop does
 * between steps (sprite reassignment, curriculum, freezing, the
 * multi-step schedule), on the library's CPU ops.
 *
 * One step on a batch x [B, C, H, W]:
 *   1. the encoder in training mode (batch statistics, running statistics
 *      updated) gives the features;
 *   2. every sprite (with its mask, and with a canvas channel when
 *      model.inject_noise) goes through sprite transformer l, head k, and
 *      the layer transformer, head l, for every layer l and sprite k; the
 *      backgrounds through the background transformer; only the modules the
 *      curriculum has activated by the current epoch take part;
 *   3. mask noise: one uniform map per sprite, shared by every layer and
 *      image (REFERENCE-NOTES 7), masks = clamp(mask + canvas * (2a u - a));
 *   4. selection: the greedy loop (model.estimate_minimum; without the empty
 *      sprite and its penalty while the sprites are frozen) or the exact
 *      minimum over every assignment;
 *   5. the loss: the mean over images of the per-image mean squared error
 *      of the selected composition; the gradient flows through the selected
 *      candidates only (the reference's one-hot class_prob / min);
 *   6. Adam with the reference's two groups (sp_optim.h): sprites, masks
 *      and backgrounds (skipped while frozen); every network, the shared
 *      encoder updated once per transformer that holds it.
 * Randomness (mask noise, reassignment noise, the layer whose sprites are
 * checked) is drawn from Philox keyed by (seed, purpose, iteration), so a
 * step depends only on the state, never on how many steps ran in this
 * process: a resumed run is the uninterrupted run. */
#ifndef SP_TRAIN_H
#define SP_TRAIN_H

#include "sp_model.h"

#include <stdint.h>

typedef struct sp_trainer sp_trainer;

/* A trainer on m (which it updates in place and must outlive it).  The
 * state (Adam moments and steps, iteration, epoch, cluster statistics)
 * comes from m's checkpoint sections when it has them, else starts fresh.
 * seed keys every random draw. */
sp_trainer *sp_trainer_new(sp_model *m, uint64_t seed, const char *where);
void sp_trainer_free(sp_trainer *t);

/* One training step on x [B, C, H, W] (steps 1-6 above); returns the loss
 * before the update.  A non-finite loss updates nothing (the caller stops);
 * a parameter the update made non-finite is named in *bad (else NULL). */
double sp_trainer_step(sp_trainer *t, const float *x, int B, const char **bad);

/* The loss of x with the current parameters and state (steps 1-5, batch
 * statistics, the noise of the current iteration), and when grads is set
 * every parameter's gradient (sp_trainer_grad); nothing is updated but
 * the encoder's running statistics. */
double sp_trainer_loss(sp_trainer *t, const float *x, int B, int grads);
/* The gradient of the named model tensor after sp_trainer_loss(..., 1),
 * or NULL (a buffer, or a tensor without a gradient in this step). */
const float *sp_trainer_grad(const sp_trainer *t, const char *name);
/* The trainable value of the named tensor (the encoder's live copy for
 * encoder tensors), for tests that perturb parameters. */
float *sp_trainer_param(sp_trainer *t, const char *name);

/* What the reference's loop does after an iteration, given the iteration
 * count: the sprite check every training.check_cluster_interval
 * iterations.  Returns the number of sprites reassigned (0 when none or no
 * check), and the layer and the source sprite in *layer / *from. */
int sp_trainer_check_clusters(sp_trainer *t, int *layer, int *from);
/* End of an epoch: model.step() (epoch + 1, curriculum) and the scheduler. */
void sp_trainer_epoch_end(sp_trainer *t);

/* Parity hooks: the uniform maps [K, H*W] the next step's mask noise is
 * made of (NULL: back to Philox), as the reference's torch.rand would give
 * them; the epoch (curriculum, freezing, schedule) as if epoch_end had run
 * that many times; the selection of the last step, [B, L] (sprite per
 * layer), valid until the next step. */
void sp_trainer_set_noise(sp_trainer *t, const float *uniform);
void sp_trainer_set_epoch(sp_trainer *t, int64_t epoch);
const int32_t *sp_trainer_last_choice(const sp_trainer *t);
/* The reconstructions of the last step's first images (at most 8), [n, C,
 * H, W]; returns n (0 before any step). */
int sp_trainer_last_recon(const sp_trainer *t, const float **recon);

int64_t sp_trainer_iteration(const sp_trainer *t);
int64_t sp_trainer_epoch(const sp_trainer *t);
/* Learning rate of group g (0: sprites, 1: networks) now. */
double sp_trainer_lr(const sp_trainer *t, int g);
/* Whether the sprites are frozen now. */
int sp_trainer_frozen(const sp_trainer *t);

/* Copies the live state into m: encoder weights and running statistics,
 * and the checkpoint sections (optimizer, rng, schedule) plus the meta
 * entries epoch / iteration / curriculum_epoch. */
void sp_trainer_sync(sp_trainer *t);

/* Active modules of the transformation sequence of n modules whose
 * curriculum milestones are in config key `key` (the reference's
 * TransformationSequence activations after `epoch` calls of step()): a
 * prefix length, n when the key is false. */
int sp_curriculum_active(const sp_config *cfg, const char *key, int n, int64_t epoch);

#endif
