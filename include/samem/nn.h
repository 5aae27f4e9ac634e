/* samem nn: a small engine for training and running convolutional networks on the CPU.
 *
 * A network is a graph built once with the builder calls below, compiled (parameters allocated and initialised
 * from the net's seed), then run through one or more contexts. A context holds the activation buffers (and,
 * when made for training, their gradients) for one batch size; several contexts of one net may run forward
 * at the same time on different threads, sharing the parameters read-only.
 *
 * Worked example: a two-level U-Net that takes 3 frames + 1 prompt mask (all 64x64 px) and predicts mask
 * logits and an IoU score, trained with BCE + Dice on the mask and L2 on the score.
 *
 *     sm_error err = {0};
 *     sm_nn_net *net = sm_nn_create(42);                                   // seed for init and dropout
 *     sm_nn_t frames = sm_nn_input(net, "frames", 3, 64, 64);              // (N,3,64,64)
 *     sm_nn_t prompt = sm_nn_input(net, "prompt", 1, 64, 64);              // (N,1,64,64)
 *     sm_nn_t x  = sm_nn_concat2(net, frames, prompt);                     // (N,4,64,64)
 *     sm_nn_t e1 = sm_nn_conv_block(net, "enc1", x, 16);                   // conv3x3 + GroupNorm + SiLU
 *     sm_nn_t d  = sm_nn_pool(net, e1, SM_NN_MAX, 2, 2, 0);                // (N,16,32,32)
 *     sm_nn_t e2 = sm_nn_conv_block(net, "enc2", d, 32);                   // (N,32,32,32)
 *     sm_nn_t u  = sm_nn_upsample(net, e2, 2, SM_NN_BILINEAR);             // (N,32,64,64)
 *     sm_nn_t y  = sm_nn_conv_block(net, "dec1", sm_nn_concat2(net, u, e1), 16);
 *     sm_nn_t logits = sm_nn_conv2d(net, "head", y, 1, 1, 1, 0, 1, 1, 1); // (N,1,64,64) 1x1 head
 *     sm_nn_t g   = sm_nn_global_pool(net, e2, SM_NN_AVG);                 // (N,32,1,1)
 *     sm_nn_t iou = sm_nn_linear(net, "iou_head", g, 1, 1);                // (N,1,1,1)
 *     sm_nn_t mask_gt = sm_nn_input(net, "mask_gt", 1, 64, 64);
 *     sm_nn_t iou_gt  = sm_nn_input(net, "iou_gt", 1, 1, 1);
 *     sm_nn_t loss = sm_nn_add(net, sm_nn_loss_bce(net, logits, mask_gt, 1.0f),
 *                                   sm_nn_loss_dice(net, logits, mask_gt, 1.0f));
 *     loss = sm_nn_add(net, loss, sm_nn_scale(net, sm_nn_loss_l2(net, iou, iou_gt), 0.5f));
 *     if (sm_nn_compile(net, &err) < 0) ...;                    // first builder error, if any, lands here
 *
 *     sm_nn_ctx *ctx = sm_nn_ctx_create(net, 8, SM_NN_TRAIN, &err);          // batch of 8, with gradients
 *     sm_nn_adamw opt = sm_nn_adamw_default();  opt.lr = 1e-3f;  opt.total_steps = 1000;
 *     for (int step = 0; step < 1000; step++) {
 *         fill(sm_nn_ctx_data(ctx, frames), ...);               // (8,3,64,64) float32, NCHW, row-major
 *         ...
 *         sm_nn_zero_grad(net);
 *         sm_nn_forward(ctx, &err);
 *         float l = sm_nn_ctx_data(ctx, loss)[0];
 *         sm_nn_backward(ctx, loss, &err);
 *         sm_nn_adamw_step(net, &opt, &err);
 *     }
 *     const char *meta[] = {"arch", "unet2", "trained_on", "sim v1", NULL};
 *     sm_nn_save(net, "model.safetensors", meta, &err);
 *     sm_nn_ctx_destroy(ctx);
 *     // inference, one context per thread:  c = sm_nn_ctx_create(net, 1, SM_NN_INFER, &err); sm_nn_forward(c,...)
 *     sm_nn_destroy(net);
 *
 * Shapes: every tensor is float32 (N,C,H,W), contiguous, row-major (W fastest). N is the batch and is fixed per
 * context; C,H,W are fixed when the graph is built (sm_nn_shape reports them). Losses are scalars of shape
 * (1,1,1,1) independent of N (means over the batch). To run other spatial sizes, build a second net with the
 * same layer names and copy the parameters (sm_nn_copy_params) or load the same safetensors file.
 *
 * Builder errors: builder calls never fail loudly; on a bad argument they return SM_NN_NONE (-1) and record
 * the first error in the net, and every later call that receives SM_NN_NONE passes it on. sm_nn_compile
 * returns that first error ("conv2d enc1: input has 3 channels, groups 2 does not divide it").
 *
 * Parameters: named "<layer>.weight", "<layer>.bias" (PyTorch names: conv weight (O,C/groups,k,k), conv
 * transpose weight (C,O,k,k), linear weight (O,in), batch norm weight/bias/running_mean/running_var, group norm
 * weight/bias), so state dicts from PyTorch load directly. They live in one contiguous buffer; gradients in a
 * second buffer of the same layout; AdamW moments in two more (allocated on the first step, saved in
 * checkpoints by sm_nn_save_checkpoint).
 *
 * Threads and repeatability: the engine starts no threads of its own; hot loops use OpenMP `parallel for`
 * over independent outputs (statistics summed in double in a fixed order), convolutions call oneDNN (OpenMP)
 * or OpenBLAS sgemm (its own pthreads). Results for a fixed seed are identical run to run with the same
 * thread count. Changing the thread count (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS) can change only the order
 * of float summations inside the sgemm and oneDNN kernels, so results may differ in the last bits, never in
 * kind. SAMEM_NN_CONV=sgemm or =dnnl forces the convolution route (docs/nn.md). Initialisation and dropout masks depend only on the seed (dropout: on the context's
 * seed and a per-forward counter), never on threads.
 * Running contexts in parallel: sm_nn_forward on different contexts of one net from different threads is
 * safe. sm_nn_backward adds into the net's single gradient buffer, so backward on several contexts at once is
 * not; and batch norm in SM_NN_TRAIN mode updates running statistics in the net. Inside a parallel region,
 * OpenMP loops run single-threaded (nested parallelism off); set OPENBLAS_NUM_THREADS=1 when running many
 * contexts in parallel.
 *
 * Left out: float16/bfloat16 compute, dynamic shapes, automatic differentiation of arbitrary expressions
 * (each op has a hand-written backward), recurrent layers. Backends: CPU (reference loops with OpenMP,
 * OpenBLAS sgemm, oneDNN convolutions; measured choices in docs/nn.md); the table in src/nn/backend_impl.h
 * leaves room for CUDA.
 * Safetensors format: https://github.com/huggingface/safetensors (8-byte little-endian header length, JSON
 * header {"name": {"dtype","shape","data_offsets"}, "__metadata__": {str: str}}, then raw little-endian data).
 */
#ifndef SAMEM_NN_H
#define SAMEM_NN_H

#include <stddef.h>
#include <stdint.h>

#include "samem/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sm_nn_net sm_nn_net;   /* graph + parameters + gradients + optimiser state */
typedef struct sm_nn_ctx sm_nn_ctx;   /* activations (and their gradients) for one batch size */
typedef int32_t sm_nn_t;              /* a tensor handle within its net; SM_NN_NONE after a builder error */
#define SM_NN_NONE ((sm_nn_t)-1)

enum sm_nn_act { SM_NN_RELU, SM_NN_SILU, SM_NN_GELU, SM_NN_SIGMOID, SM_NN_TANH, SM_NN_IDENTITY };
enum sm_nn_pool_kind { SM_NN_AVG, SM_NN_MAX };
enum sm_nn_upsample_mode { SM_NN_NEAREST, SM_NN_BILINEAR };   /* bilinear: align_corners=False, as PyTorch */
enum sm_nn_init { SM_NN_INIT_KAIMING, SM_NN_INIT_XAVIER, SM_NN_INIT_TORCH };
enum sm_nn_mode { SM_NN_INFER = 0, SM_NN_TRAIN = 1, SM_NN_EVAL_GRAD = 2 };

/* ---------------------------------------------------------------- building */

/* A new empty net. seed drives parameter initialisation and dropout. */
sm_nn_net *sm_nn_create(uint64_t seed);
void sm_nn_destroy(sm_nn_net *net);

/* Initialisation for weights of layers added after this call (default SM_NN_INIT_KAIMING):
 * KAIMING: normal, std = sqrt(2/fan_in) (He et al. 2015, for ReLU-like activations);
 * XAVIER: uniform in +-sqrt(6/(fan_in+fan_out)) (Glorot and Bengio 2010);
 * TORCH: PyTorch's default, uniform in +-1/sqrt(fan_in). Biases start at 0, norm weights at 1. */
void sm_nn_set_init(sm_nn_net *net, enum sm_nn_init init);

/* A named input (N,c,h,w): images, masks, prompts, targets. Fill it through sm_nn_ctx_data before forward. */
sm_nn_t sm_nn_input(sm_nn_net *net, const char *name, int c, int h, int w);

/* 2-D convolution, square kernel k, as torch.nn.Conv2d. Output (N,out_c,H',W') with
 * H' = (H + 2*pad - dilation*(k-1) - 1)/stride + 1. groups divides both channel counts (groups == C: depthwise).
 * Parameters: name.weight (out_c, C/groups, k, k), name.bias (out_c) when bias != 0. */
sm_nn_t sm_nn_conv2d(sm_nn_net *net, const char *name, sm_nn_t x, int out_c, int k, int stride, int pad,
                     int dilation, int groups, int bias);
/* Transposed convolution as torch.nn.ConvTranspose2d (groups 1, dilation 1):
 * H' = (H-1)*stride - 2*pad + k + out_pad. name.weight (C, out_c, k, k), name.bias (out_c). */
sm_nn_t sm_nn_conv_transpose2d(sm_nn_net *net, const char *name, sm_nn_t x, int out_c, int k, int stride,
                               int pad, int out_pad, int bias);
/* Upsampling by an integer factor (N,C,H*s,W*s). */
sm_nn_t sm_nn_upsample(sm_nn_net *net, sm_nn_t x, int scale, enum sm_nn_upsample_mode mode);
/* Batch norm over (N,H,W) per channel; training contexts use batch statistics (biased variance) and update
 * name.running_mean / running_var (unbiased) with momentum (PyTorch's 0.1); inference contexts use the
 * running ones. eps as PyTorch (1e-5). */
sm_nn_t sm_nn_batchnorm(sm_nn_net *net, const char *name, sm_nn_t x, float momentum, float eps);
/* Group norm over (C/groups,H,W) per sample and group, with per-channel affine name.weight, name.bias. */
sm_nn_t sm_nn_groupnorm(sm_nn_net *net, const char *name, sm_nn_t x, int groups, float eps);
/* Elementwise activation (GELU is the exact erf form, PyTorch's default). */
sm_nn_t sm_nn_act(sm_nn_net *net, sm_nn_t x, enum sm_nn_act act);
/* a + b and a * b: same shape, or b of shape (N,C,1,1) broadcast over H,W (gating). Also on loss scalars. */
sm_nn_t sm_nn_add(sm_nn_net *net, sm_nn_t a, sm_nn_t b);
sm_nn_t sm_nn_mul(sm_nn_net *net, sm_nn_t a, sm_nn_t b);
/* s * x, for weighting losses. */
sm_nn_t sm_nn_scale(sm_nn_net *net, sm_nn_t x, float s);
/* Concatenation along channels; all inputs share H,W. */
sm_nn_t sm_nn_concat(sm_nn_net *net, int n, const sm_nn_t *xs);
sm_nn_t sm_nn_concat2(sm_nn_net *net, sm_nn_t a, sm_nn_t b);
/* The window rows [top, top+h), columns [left, left+w) (for U-Net skips of unequal size). */
sm_nn_t sm_nn_crop(sm_nn_net *net, sm_nn_t x, int top, int left, int h, int w);
/* Average or max pooling, square window k, stride, zero padding pad (average counts padding, as PyTorch's
 * count_include_pad=True; max ignores it). */
sm_nn_t sm_nn_pool(sm_nn_net *net, sm_nn_t x, enum sm_nn_pool_kind kind, int k, int stride, int pad);
/* Global average or max pooling to (N,C,1,1). */
sm_nn_t sm_nn_global_pool(sm_nn_net *net, sm_nn_t x, enum sm_nn_pool_kind kind);
/* Fully connected on the flattened (C*H*W) features: (N,out,1,1). name.weight (out, C*H*W), name.bias (out). */
sm_nn_t sm_nn_linear(sm_nn_net *net, const char *name, sm_nn_t x, int out, int bias);
/* Softmax over channels at every pixel. */
sm_nn_t sm_nn_softmax(sm_nn_net *net, sm_nn_t x);
/* Scaled dot-product attention with the H*W pixels as tokens and C channels as features, split into `heads`
 * heads of C/heads: out = softmax(q k^T / sqrt(C/heads)) v. q (N,C,Hq,Wq); k, v (N,C,Hk,Wk); out like q. */
sm_nn_t sm_nn_attention(sm_nn_net *net, sm_nn_t q, sm_nn_t k, sm_nn_t v, int heads);
/* Inverted dropout with probability p in SM_NN_TRAIN contexts; identity otherwise. */
sm_nn_t sm_nn_dropout(sm_nn_net *net, sm_nn_t x, float p);

/* Convenience: conv3x3 (pad 1, no bias) + GroupNorm (8 groups, or the largest of 4, 2, 1 dividing out_c) + SiLU.
 * Parameters name.conv.*, name.norm.*. */
sm_nn_t sm_nn_conv_block(sm_nn_net *net, const char *name, sm_nn_t x, int out_c);

/* ---------------------------------------------------------------- losses: scalars (1,1,1,1), means */

/* Binary cross-entropy on logits z with targets t in [0,1]:
 * mean(-(pos_weight * t * log sigmoid(z) + (1-t) log(1-sigmoid(z)))), as BCEWithLogitsLoss(pos_weight). */
sm_nn_t sm_nn_loss_bce(sm_nn_net *net, sm_nn_t logits, sm_nn_t target, float pos_weight);
/* Soft Dice on p = sigmoid(z), per sample: 1 - (2 sum(p t) + eps) / (sum p + sum t + eps), mean over N. */
sm_nn_t sm_nn_loss_dice(sm_nn_net *net, sm_nn_t logits, sm_nn_t target, float eps);
/* Focal loss (Lin et al. 2017) on logits: mean(-a_t (1-p_t)^gamma log p_t), a_t = alpha t + (1-alpha)(1-t),
 * p_t = p t + (1-p)(1-t) (torchvision's sigmoid_focal_loss with reduction="mean"). alpha < 0: no weighting. */
sm_nn_t sm_nn_loss_focal(sm_nn_net *net, sm_nn_t logits, sm_nn_t target, float alpha, float gamma);
/* Lovasz hinge on logits (Berman, Triki, Blaschko 2018): per sample, the convex extension of the Jaccard loss
 * 1 - IoU over the hinge errors max(0, 1 - z s), s = +1 where t >= 0.5 and -1 elsewhere; mean over N. It
 * optimises the IoU itself, which the pixel losses only approximate. */
sm_nn_t sm_nn_loss_lovasz(sm_nn_net *net, sm_nn_t logits, sm_nn_t target);
/* mean |x - t| and mean (x - t)^2 over all elements. */
sm_nn_t sm_nn_loss_l1(sm_nn_net *net, sm_nn_t x, sm_nn_t target);
sm_nn_t sm_nn_loss_l2(sm_nn_net *net, sm_nn_t x, sm_nn_t target);

/* ---------------------------------------------------------------- compiling and inspecting */

/* Checks the graph, allocates parameters and gradients, initialises them from the seed. Returns 0 or the
 * first builder error. No builder call is allowed after it. */
int sm_nn_compile(sm_nn_net *net, sm_error *err);

/* Shape (C,H,W) of a tensor (N is the context's); returns 0, or SM_EINVAL for a bad handle. */
int sm_nn_shape(const sm_nn_net *net, sm_nn_t t, int *c, int *h, int *w);
/* The handle of the input with this name, or SM_NN_NONE. */
sm_nn_t sm_nn_find_input(const sm_nn_net *net, const char *name);

/* Parameters (after compile). Counts are floats. */
int sm_nn_param_count(const sm_nn_net *net);                  /* number of named parameter tensors */
size_t sm_nn_param_total(const sm_nn_net *net);               /* floats in all of them */
/* The i-th parameter: name, data, gradient (may be NULL before compile), shape (up to 4 dims, unused 1). */
const char *sm_nn_param_info(const sm_nn_net *net, int i, float **data, float **grad, int *ndim, int64_t shape[4]);
/* Data of the parameter with this name, or NULL; *n receives its float count when n is not NULL. */
float *sm_nn_param(sm_nn_net *net, const char *name, size_t *n);
/* Copies every parameter of src into the same-named, same-shaped one of dst (other spatial sizes, say). */
int sm_nn_copy_params(sm_nn_net *dst, const sm_nn_net *src, sm_error *err);

/* ---------------------------------------------------------------- running */

/* A context for batch size n. SM_NN_INFER: no gradient buffers, dropout off, batch norm uses running stats.
 * SM_NN_TRAIN: gradients, dropout on, batch norm on batch statistics. SM_NN_EVAL_GRAD: gradients with the
 * inference behaviour (for gradient checks). */
sm_nn_ctx *sm_nn_ctx_create(sm_nn_net *net, int n, enum sm_nn_mode mode, sm_error *err);
void sm_nn_ctx_destroy(sm_nn_ctx *ctx);
/* The (N,C,H,W) buffer of tensor t in this context: write inputs here, read outputs and losses. Valid until the
 * context is destroyed. */
float *sm_nn_ctx_data(sm_nn_ctx *ctx, sm_nn_t t);
/* The gradient buffer of t (NULL in SM_NN_INFER), filled by sm_nn_backward; for inputs it is d loss / d input
 * when input gradients are on (see sm_nn_ctx_input_grads), zeros otherwise. */
float *sm_nn_ctx_grad(sm_nn_ctx *ctx, sm_nn_t t);
/* Whether sm_nn_backward computes gradients for the net's inputs. Default: off in SM_NN_TRAIN (training needs
 * only parameter gradients, and the first convolution's data gradient is costly), on in SM_NN_EVAL_GRAD. Loss
 * targets never get gradients. */
void sm_nn_ctx_input_grads(sm_nn_ctx *ctx, int on);
int sm_nn_ctx_batch(const sm_nn_ctx *ctx);
/* Reseeds the context's dropout stream. */
void sm_nn_ctx_seed(sm_nn_ctx *ctx, uint64_t seed);

/* Runs every op in build order. */
int sm_nn_forward(sm_nn_ctx *ctx, sm_error *err);
/* Back-propagates from the scalar `loss` (d loss/d loss = 1; for any other tensor, from a gradient of ones),
 * adding into the parameter gradients of the net and filling the context's tensor gradients. */
int sm_nn_backward(sm_nn_ctx *ctx, sm_nn_t loss, sm_error *err);
/* Clears the parameter gradients. */
void sm_nn_zero_grad(sm_nn_net *net);

/* ---------------------------------------------------------------- optimiser */

/* AdamW (Loshchilov and Hutter 2019) with decoupled weight decay applied to conv and linear weights only (not
 * to biases and norm parameters), global gradient-norm clipping, linear warm-up then cosine decay:
 * lr(s) = lr * (s+1)/warmup for s < warmup, then min_lr + (lr-min_lr) * (1 + cos(pi * p)) / 2 with
 * p = (s - warmup)/(total_steps - warmup) clamped to [0,1]; total_steps <= 0 keeps lr constant after warm-up. */
typedef struct sm_nn_adamw {
    float lr, min_lr;           /* peak and final learning rates */
    float beta1, beta2, eps;    /* 0.9, 0.999, 1e-8 */
    float weight_decay;         /* 0.01 */
    float clip_norm;            /* max global L2 norm of the gradients; <= 0: no clipping */
    int warmup_steps, total_steps;
    int step;                   /* steps taken; sm_nn_adamw_step increments it */
    float last_lr, last_grad_norm;   /* outputs of the last step (grad norm before clipping) */
} sm_nn_adamw;

sm_nn_adamw sm_nn_adamw_default(void);
/* The learning rate at step s under opt's schedule. */
float sm_nn_adamw_lr(const sm_nn_adamw *opt, int s);
/* One update of every parameter from the current gradients (does not clear them). */
int sm_nn_adamw_step(sm_nn_net *net, sm_nn_adamw *opt, sm_error *err);

/* ---------------------------------------------------------------- safetensors */

/* Writes every parameter (and batch-norm running statistics) as F32 tensors, atomically. meta: NULL or a
 * NULL-terminated list of key, value strings stored in "__metadata__". */
int sm_nn_save(const sm_nn_net *net, const char *path, const char *const *meta, sm_error *err);
/* The same, with the AdamW moments as well when with_optimizer is set and a step has been taken (tensors
 * "adamw.m.NAME" and "adamw.v.NAME"), so that a resumed training continues exactly. */
int sm_nn_save_checkpoint(const sm_nn_net *net, const char *path, const char *const *meta, int with_optimizer,
                          sm_error *err);
/* Loads every parameter of the net from path by name; a missing tensor, another dtype or another shape is
 * SM_EFORMAT naming the tensor. Extra tensors in the file are ignored. */
int sm_nn_load(sm_nn_net *net, const char *path, sm_error *err);

/* A safetensors file read whole into memory, checked: header length within the file, valid JSON, known
 * dtypes, shapes whose byte size matches data_offsets, offsets in order, inside the data and not overlapping. */
typedef struct sm_nn_st sm_nn_st;
int sm_nn_st_read(const char *path, sm_nn_st **out, sm_error *err);
/* The same from a buffer (copied); `what` names it in errors. */
int sm_nn_st_parse(const void *data, size_t len, const char *what, sm_nn_st **out, sm_error *err);
void sm_nn_st_destroy(sm_nn_st *st);
int sm_nn_st_count(const sm_nn_st *st);
/* Tensor i: its name, dtype ("F32", "F16", "I64", ...), shape, and raw little-endian bytes. */
const char *sm_nn_st_tensor(const sm_nn_st *st, int i, const char **dtype, int *ndim, const int64_t **shape,
                            const void **data, size_t *nbytes);
int sm_nn_st_find(const sm_nn_st *st, const char *name);   /* index or -1 */
/* A metadata value, or NULL. */
const char *sm_nn_st_meta(const sm_nn_st *st, const char *key);
int sm_nn_st_meta_count(const sm_nn_st *st);
const char *sm_nn_st_meta_at(const sm_nn_st *st, int i, const char **value);
/* Loads the net's parameters from an already read file (as sm_nn_load). */
int sm_nn_load_st(sm_nn_net *net, const sm_nn_st *st, const char *what, sm_error *err);
/* Restores the AdamW moments from a checkpoint read with sm_nn_st_read: 1 when they were there, 0 when the
 * file has none (the moments then start from zero), or an error for a partial or misshapen state. */
int sm_nn_load_optimizer_st(sm_nn_net *net, const sm_nn_st *st, const char *what, sm_error *err);

#ifdef __cplusplus
}
#endif
#endif
