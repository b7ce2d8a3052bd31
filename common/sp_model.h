/* The DTI-Sprites model as data: its configuration and its named parameter
 * tensors, built, initialised, written and read exactly as the reference's
 * DTISprites(dataset, **cfg['model']) builds them (model/dti_sprites.py,
 * model/transformer.py, model/tools.py).  The stages (predict, select,
 * compose) and the trainer find what they need by name.
 *
 * Tensor names are the reference's state_dict keys, so that a reference
 * checkpoint can be imported by name:
 *   prototype_params [K0,C,h,w], mask_params [K0,1,h,w]   (K0 = model.n_sprites)
 *   bkg_params [M,C,H,W]                                    (M > 0)
 *   encoder.encoder.<i>....                                 (sp_encoder's names)
 *   layer_transformer.tsf_sequences.<l>.tsf_modules.<j>.regressor.<i>.{weight,bias}
 *   sprite_transformers.<l>.tsf_sequences.<k>.tsf_modules.<j>.regressor.<i>.{weight,bias}
 *   bkg_transformer.tsf_sequences.<m>.tsf_modules.<j>.regressor.<i>.{weight,bias}
 *   occ_predictor.<i>.{weight,bias}                         (pred_occlusion)
 * The shared encoder is stored once: the reference's state_dict repeats it
 * under every transformer that holds it (sprite_transformers.0.encoder...,
 * bkg_transformer.encoder..., layer_transformer.encoder...), an alias of the
 * same tensors.  Not stored either, because the configuration determines
 * them: the transformation modules' `identity` buffers, TPSGrid's
 * precomputed matrices, occ_grid, num_batches_tracked; the curriculum
 * `activations` are training state (checkpoints).  The empty sprite is not a
 * parameter (zeros appended at use), so the transformers have
 * K = n_sprites + add_empty_sprite heads while prototype_params has
 * n_sprites.
 *
 * Randomness: every random tensor is drawn from Philox (sp_rng.h) with the
 * model seed and a stream derived from the tensor's name (FNV-1a 64), so a
 * tensor's initial value depends only on (seed, name), never on the order
 * of construction.  The draws differ from torch's; the distributions are the
 * reference's (nn.Linear: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias;
 * the last layer of every regressor and of the occlusion predictor zero;
 * encoders as sp_encoder_init). */
#ifndef SP_MODEL_H
#define SP_MODEL_H

#include "sp_config.h"
#include "sp_map.h"
#include "sp_mlp.h"
#include "sp_tensor.h"
#include "sp_tsf_seq.h"

#include <stdint.h>

#define SP_MODEL_VERSION 1
#define SP_MODEL_NAME_MAX 128

typedef struct {
    char name[SP_MODEL_NAME_MAX];
    sp_tensor *t;  /* owned, f32 */
    int is_buffer; /* batch-norm running statistics: no gradient, no weight decay */
} sp_model_tensor;

typedef struct {
    sp_config *cfg;   /* owned */
    int C, H, W;      /* images */
    int h, w;         /* sprites */
    int n_sprites;    /* learned sprites (prototype_params) */
    int K;            /* sprites seen by the transformers: n_sprites + empty */
    int L;            /* object layers */
    int M;            /* backgrounds (0: none) */
    int has_layer_tsf;
    int64_t features; /* encoder output per image */
    int ntensors, cap;
    sp_model_tensor *tensors;
    sp_map meta;      /* free-form, raw msgpack values */
    char skipped[16]; /* sp_model_read_part's prefix: those values were not read ("" all were) */
    sp_map ckpt;      /* checkpoint sections "optimizer", "rng", "schedule" as raw
                       * msgpack maps (formats/model.md); empty in a plain model */
} sp_model;

/* Image channels and size of a dataset name as the reference's dataset
 * classes define them (svhn and the IDX sets honour dataset.img_size);
 * 0, or -1 for an unknown name. */
int sp_dataset_dims(const sp_config *cfg, int *c, int *h, int *w);

/* The model the configuration describes, every tensor zero.  Fatal, with
 * the message prefixed by where (a file name), when the configuration
 * cannot build a model (unknown dataset, transformation, encoder, init,
 * missing required key...). */
sp_model *sp_model_new(const sp_config *cfg, const char *where);
void sp_model_free(sp_model *m);

/* Whether the initialisation reads images (proto_init / bkg_init sample or
 * mean). */
int sp_model_init_needs_data(const sp_config *cfg);

/* The reference's initial values, from seed.  images [n, C, H, W] (may be
 * NULL when sp_model_init_needs_data is 0): 'mean' averages the first
 * min(100, n) images (the reference: a shuffled batch of 100), 'sample'
 * draws image indices uniformly below n. */
void sp_model_init(sp_model *m, uint64_t seed, const float *images, size_t n);

/* The tensor called name, or NULL. */
sp_tensor *sp_model_find(const sp_model *m, const char *name);
/* Number of floats of all tensors. */
size_t sp_model_numel(const sp_model *m);

/* Reads a tensor value o (a map dtype/shape/data) into t, whose dtype and
 * shape it must have; fatal "name: tensor 'tname': why" otherwise. */
struct msgpack_object;
void sp_model_read_tensor(sp_tensor *t, const char *tname, const struct msgpack_object *o,
                          const char *name);

/* The MLP under prefix (a regressor "...tsf_modules.<j>.regressor" or
 * "occ_predictor"): its Linear layers, at most max, pointing at m's
 * tensors, and when index is not NULL the model-tensor indices of each
 * layer's weight and bias (index[2i], index[2i+1]); returns the layer
 * count.  Fatal when the MLP is not there or a bias is missing. */
int sp_model_mlp(const sp_model *m, const char *prefix, sp_mlp_layer *layers, int max, int *index);
/* The transformation sequence named seq as the model applies it: output
 * size h x w, padding, clamp, colour channels, TPS lattice and
 * morphological kernel from the config.  Fatal on an unknown name. */
void sp_model_tsf_seq(const sp_model *m, const char *seq, int h, int w, sp_padding pad, sp_clamp clamp,
                      sp_tsf_seq *q);

/* One regressor MLP of the model (sp_model_mlp): its layers and their
 * weight / bias tensor indices in the model. */
#define SP_HEAD_MLP_MAX 18 /* n_hidden_layers <= 16 (sp_model_new) + 1 */
typedef struct {
    int nl;
    sp_mlp_layer l[SP_HEAD_MLP_MAX];
    int index[2 * SP_HEAD_MLP_MAX]; /* model tensor of layer i's weight (2i) and bias (2i+1) */
} sp_head_mlp;

/* A PrototypeTransformationNetwork: one transformation sequence and nheads
 * chains of regressors (heads[k * full.n + j] predicts module j of head k;
 * nl 0 for identity modules), shared by the predictor (eval) and the
 * trainer, so both turn features into parameters the same way. */
typedef struct {
    int identity;        /* the whole sequence is identity: no regressors at all */
    sp_tsf_seq full;     /* the whole sequence */
    sp_tsf_seq q;        /* the active prefix (the curriculum's stage) */
    int P;               /* sp_tsf_seq_params of the active prefix */
    int nheads;
    const char *cur_key; /* the curriculum's config key (milestones) */
    sp_head_mlp *heads;  /* [nheads * full.n] */
} sp_tsf_heads;

void sp_head_mlp_load(sp_head_mlp *o, const sp_model *m, const char *prefix);
/* Loads the heads under prefix ("sprite_transformers.<l>",
 * "layer_transformer", "bkg_transformer") for sequence seq with output h x w;
 * the whole sequence is active. */
void sp_tsf_heads_load(sp_tsf_heads *o, const sp_model *m, const char *prefix, const char *seq,
                       const char *cur_key, int nheads, int h, int w, sp_padding pad, sp_clamp clamp);
/* Makes active the prefix the curriculum (o->cur_key) gives at epoch. */
void sp_tsf_heads_stage(sp_tsf_heads *o, const sp_config *cfg, int64_t epoch);
/* 1 when the active modules are all identity (the transformer copies). */
int sp_tsf_heads_is_copy(const sp_tsf_heads *o);
/* beta [n, P] of head k: the active modules' regressor outputs side by side
 * (TransformationSequence.predict_parameters). */
void sp_tsf_heads_beta(float *beta, const sp_tsf_heads *o, int k, const float *feat, int n);
void sp_tsf_heads_free(sp_tsf_heads *o);

/* Writes formats/model.md atomically (temporary name, then rename). */
void sp_model_write(const sp_model *m, const char *path);
/* Packs the model file into a malloc'd buffer (what sp_model_write writes). */
char *sp_model_pack(const sp_model *m, size_t *len);
/* Reads and validates a model file; fatal "path: why" on any error. */
sp_model *sp_model_read(const char *path);
/* The same, except that the values of the tensors whose names begin with
 * skip ("encoder.") are not read: their dtype, shape and size are checked,
 * and they hold no values (data NULL: no memory is taken for them).  For a
 * stage that never uses them (sp-select --model and sp-viz run no
 * encoder): a ResNet-18 model's 45 MB are then neither copied nor touched.  m->skipped remembers the prefix: such a
 * model cannot be written and builds no encoder (both fatal). */
sp_model *sp_model_read_part(const char *path, const char *skip);
/* sp_model_read_part, except that the skipped tensors' values go where
 * dest says instead (checked as any, finite): dest(ctx, m, name, count)
 * returns room for count floats (NULL: leave them unread); m is the model
 * being read, its config and shapes already set.  Then done (NULL: none)
 * gets them, there and checked, before the next tensor's dest: a caller
 * may hand the same room out again.  For a stage that keeps those values
 * elsewhere (sp-predict's encoder arena, or only its packed form): they are
 * copied once, straight from the mapped file, not first into the model's
 * tensors. */
typedef float *(*sp_model_dest_fn)(void *ctx, const sp_model *m, const char *name, size_t count);
typedef void (*sp_model_done_fn)(void *ctx, const char *name, const float *values, size_t count);
sp_model *sp_model_read_into(const char *path, const char *skip, sp_model_dest_fn dest, sp_model_done_fn done,
                             void *ctx);
/* sp_model_read_into with the tensors under prefix going to dest, and the
 * values of all the others not read at all (checked, data NULL): for a
 * stage that runs one network alone (sp-predict --features: the encoder;
 * dsprites' regressors are 19 of its model's 21 MB, neither copied nor
 * touched then).  m->skipped is SP_MODEL_ONLY_PART: only the config and
 * the tensors' shapes may be used. */
#define SP_MODEL_ONLY_PART "(one part)"
sp_model *sp_model_read_only_into(const char *path, const char *prefix, sp_model_dest_fn dest, sp_model_done_fn done,
                                  void *ctx);
/* Same from bytes (name in messages). */
sp_model *sp_model_unpack(const char *buf, size_t len, const char *name);

#endif
