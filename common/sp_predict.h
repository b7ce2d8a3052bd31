/* The model's prediction stage in eval mode: what the reference's
 * DTISprites.predict (model/dti_sprites.py) computes before any selection,
 * for a batch of images.  For every layer l and sprite k (the empty sprite
 * last when model.add_empty_sprite) the sprite, with its mask as an extra
 * channel, goes through sprite_transformers[l] (head k) and then, when the
 * model has one, through layer_transformer (head l), to image size; the
 * backgrounds through bkg_transformer; and the occlusion matrix when
 * model.pred_occlusion.  Eval mode: batch norms use their running
 * statistics, no mask noise (so no canvas channel), sprites, masks and
 * backgrounds soft-clamped by model.use_clamp as the reference's properties
 * do.  The outputs are NOT hard-clamped to [0, 1]: predict() does not clamp
 * them either and the greedy selection works on them unclamped; the
 * reference's transform() clamps them only for its composition, which is
 * therefore the composition stage's job.
 *
 * sp-train runs the same functions (a stage swapped in a pipeline is the
 * stage that was trained). */
#ifndef SP_PREDICT_H
#define SP_PREDICT_H

#include "sp_model.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sp_predictor sp_predictor;

/* A predictor reading m's tensors (m must outlive it; the encoder's
 * weights are copied into its own arena, or packed for inference where
 * that is all inference reads, sp_encoder_infer_pack).  Fatal, naming
 * where (the model file), if a transformation cannot produce an
 * image-size output. */
sp_predictor *sp_predictor_new(const sp_model *m, const char *where);
/* Reads the model file at path for prediction: the encoder's weights go
 * from the mapped file straight into the encoder's arena
 * (sp_model_read_into), not first into the model's tensors, which hold none
 * (a ResNet-18's 45 MB copied and paged in once, not twice); those that
 * inference reads only packed go through one reused staging buffer into
 * their packs as they are read (all but the batch norms' 77 KB).  *model
 * receives the model (free it after the predictor); fatal as sp_model_read
 * on a bad file. */
sp_predictor *sp_predictor_open(const char *path, sp_model **model);
/* The same for the encoder alone (sp-predict --features): the model's
 * other values are not read (sp_model_read_only_into) and no sprite or
 * regressor is prepared; only sp_predict_features may be asked of it (the
 * rest is an internal error). */
sp_predictor *sp_predictor_open_encoder(const char *path, sp_model **model);
void sp_predictor_free(sp_predictor *p);

/* Outputs for n images x [n, C, H, W] (K' = m->K, M = m->M, L = m->L):
 *   layers  [n, L, K', C, H, W]  transformed sprite colours
 *   masks   [n, L, K', 1, H, W]  transformed sprite masks
 *   bkgs    [n, M, C, H, W]      transformed backgrounds (NULL when M == 0)
 *   occ     [n, L, L]            occlusion: occ[i][j] weight of layer i hiding
 *                                layer j, as the reference's occ_grid permuted
 *                                from [L, L, n]: predicted with pred_occlusion,
 *                                else the fixed tril(ones, -1); NULL: not wanted
 * Deterministic; parallel over (layer, sprite) heads with OpenMP.
 * sp_predict_features then sp_predict_from_features. */
void sp_predict_forward(sp_predictor *p, float *layers, float *masks, float *bkgs, float *occ,
                        const float *x, int n);

/* The two halves of sp_predict_forward, for stages that split the work
 * (sp-predict --features hands the encoder's output to sp-select --model,
 * so the candidates need not cross a pipe): the encoder's features
 * feat [n, F] (F = sp_predictor_features) of x [n, C, H, W], and every
 * output above from them.  Composed, byte-identical to sp_predict_forward. */
int sp_predictor_features(const sp_predictor *p);
/* The model it reads, and whether it predicts an occlusion matrix
 * (model.pred_occlusion with more than one layer; else the fixed grid). */
const sp_model *sp_predictor_model(const sp_predictor *p);
int sp_predictor_has_occlusion(const sp_predictor *p);
void sp_predict_features(sp_predictor *p, float *feat, const float *x, int n);
void sp_predict_from_features(sp_predictor *p, float *layers, float *masks, float *bkgs, float *occ,
                              const float *feat, int n);

/* sp_predict_from_features in parts, for a stage that consumes the
 * candidates a few images at a time (sp_select_from_features) instead of
 * holding the whole batch's: the transformation parameters of all n images
 * (the regressors' GEMMs over the whole batch, as sp_predict_from_features
 * computes them: the same bits), then the candidates of images
 * [i0, i0 + cn) into layers [cn, L, K', C, H, W], masks, bkgs [cn, M, C, H, W]
 * (NULL: none; betas made with_bkgs), then the occlusion of all n.
 * Together byte-identical to sp_predict_from_features. */
/* The most images a candidates' task takes.  A task's temporaries (the
 * sprite copied once per image, the transformed chunk) then stay in cache
 * and are reused from task to task; whole batches per task touched ~40 MB
 * of fresh pages per process (gtsrb8: 8 sprites x 3 buffers of 1.6 MB),
 * most of what sp-select --model's first batch cost. */
#define SP_PREDICT_CHUNK 8
typedef struct sp_predict_betas sp_predict_betas;
sp_predict_betas *sp_predict_betas_new(sp_predictor *p, const float *feat, int n, int with_bkgs);
void sp_predict_betas_free(sp_predict_betas *b);
void sp_predict_cands(sp_predictor *p, const sp_predict_betas *b, int i0, int cn, float *layers, float *masks,
                      float *bkgs);
/* The same candidates of images [i0, i0 + cn) on the calling thread alone
 * (for a caller that runs its own tasks, one per few images), each
 * (layer, sprite) head's images together where the head's transformer
 * writes them, without a copy into the packed form: head h's at
 * out + h head_stride as [cn, C+1, H, W] (colours then mask, per image);
 * bkgs [cn, M, C, H, W] (NULL: none).  thread: the calling thread's
 * number, its temporaries readied by sp_predict_threads_ready (before the
 * parallel region: they are the predictor's, kept from call to call) for
 * at least cn images. */
void sp_predict_threads_ready(sp_predictor *p, int threads, int cap);
/* A readied thread's own block of at least bytes for the caller's working
 * memory, made by that thread (inside the parallel region) at its first
 * use and kept by the predictor from call to call like the temporaries:
 * blocks made anew every batch came back as fresh pages from a thread's
 * arena; one block for all threads made before the region measured 20%
 * slower in sp-select. */
void *sp_predict_thread_block(sp_predictor *p, int thread, size_t bytes);
void sp_predict_cands_chunk(sp_predictor *p, const sp_predict_betas *b, int i0, int cn, float *out,
                            size_t head_stride, float *bkgs, int thread);
void sp_predict_occlusion(sp_predictor *p, float *occ, const float *feat, int n);
/* The chosen candidates from their transformation parameters, for a stage
 * that makes only them (sp-compose --model, after sp-select --model
 * --params): the rows of the regressors' outputs that the chosen
 * candidates read are all it needs, so they cross a pipe instead of the
 * layers (dsprites: 60 floats an image instead of 94,000).
 * Parameters per image and layer: the sprite transformer's (sprite), then
 * the layer transformer's (layer); per image, the chosen background's
 * (bkg); 0 for an identity or an absent transformer. */
void sp_predict_param_sizes(const sp_predictor *p, int *sprite, int *layer, int *bkg);
/* Image i's rows (i indexes the batch the betas were made for), the
 * candidates choice [L] and background bkg: params [L, sprite + layer] and
 * bkg_params [bkg] (NULL, or a model without backgrounds: not written). */
void sp_predict_betas_chosen(const sp_predictor *p, const sp_predict_betas *be, int i, const int32_t *choice,
                             int32_t bkg, float *params, float *bkg_params);
/* From n images' choice [n, L], params [n, L, sprite + layer], bkg_choice
 * [n] and bkg_params [n, bkg] (both unread when sel_bkg is NULL or the
 * model has no backgrounds): sel_layers [n, L, C, H, W], sel_masks
 * [n, L, 1, H, W] and sel_bkg [n, C, H, W] (NULL: not made), the same bytes
 * as the candidates sp_predict_cands makes and sp-select --gather keeps.
 * Parallel over (image, layer) with OpenMP; the predictor's per-thread
 * temporaries and blocks (one region at a time). */
void sp_predict_chosen(sp_predictor *p, const int32_t *choice, const float *params, const int32_t *bkg_choice,
                       const float *bkg_params, int n, float *sel_layers, float *sel_masks, float *sel_bkg);

#endif
