/* The samem network (net.c) and what inference and training share: its configuration, the graph, the crop
 * geometry and the preparation of the input channels, so that training (train.c) feeds exactly what a
 * session feeds.
 *
 * Inputs (SM__NET_IN channels of S x S, S = cfg.crop):
 *   0..4  frames t, t-1, .., t-4 (in the pass's direction), each cropped around the object's position in
 *         that frame (motion compensation by the track), normalised (median 0, robust std 1, particle bright)
 *   5     the object's mask on frame t-1, cropped like frame t-1
 *   6     positive prompt map (a filled box, or disks of radius 2 crop px at positive points)
 *   7     negative points (disks)
 *   8     the other objects' masks on frame t-1, cropped like frame t-1 (neighbours: not this object)
 *   9..   with cfg.future = F > 0: frames t+1 .. t+F (in the pass's direction), cropped around the predicted
 *         centre of frame t (a session reads F frames ahead; at the end of the video the last is repeated)
 *   9+F.. with cfg.past = P > 4: frames t-5 .. t-P, cropped like frames t-1 .. t-4 (after the others, so that
 *         weights with P = 4 keep their layout)
 * Outputs: mask logits (S x S, in frame t's crop) and an objectness logit. */
#ifndef SM_NET_INTERNAL_H
#define SM_NET_INTERNAL_H

#include "model/model_internal.h"
#include "samem/nn.h"

#define SM__NET_IN 9          /* channels without the frames ahead and the frames behind t-4 */
#define SM__NET_AHEAD_MAX 4
#define SM__NET_PAST_MAX 8
#define SM__NET_CROP_MAX 512 /* the largest crop side a weights file may ask for */
#define SM__NET_HIST SM__NET_PAST_MAX /* past positions passed per object (the first cfg.past are used) */

typedef struct sm__net_config {
    int crop;         /* S, px of the network's input (64) */
    int base;         /* channels of the first level (12); levels double it up to 4x */
    double context;   /* crop side = max(min_side, context * object length + margin) frame px */
    double margin;    /* px */
    double min_side;  /* px */
    int future;       /* frames ahead of t in the input (0: none, as the first shipped weights) */
    int past;         /* frames before t in the input (4 to SM__NET_PAST_MAX; 4 for older weights) */
} sm__net_config;

/* Input channels of a configuration. */
static inline int sm__net_in_channels(const sm__net_config *c) { return SM__NET_IN + c->future + c->past - 4; }

void sm__net_config_default(sm__net_config *c);
/* Parses/prints the configuration stored in a weights file's metadata ("samem_net": JSON). */
int sm__net_config_from_json(sm__net_config *c, const char *json, sm_error *err);
void sm__net_config_to_json(const sm__net_config *c, char *buf, size_t size);

/* Handles of the graph's tensors. */
typedef struct sm__net_graph {
    sm_nn_net *net;
    sm_nn_t in, logits, obj;             /* (N,sm__net_in_channels,S,S), (N,1,S,S), (N,1,1,1) */
    sm_nn_t mask_gt, obj_gt, weight_gt;  /* training only */
    sm_nn_t loss;                        /* training only */
    sm_nn_t loss_iou;                    /* training with lovasz > 0: loss + lovasz x Lovasz hinge on the mask */
} sm__net_graph;

/* Builds (and compiles) the network; train = 1 adds targets and the loss (BCE + Dice on the mask), train = 2
 * the same with focal loss (gamma 2) in place of BCE; lovasz > 0 (training) also builds loss_iou, the loss
 * plus lovasz x the Lovasz hinge (the fine-tuning phase's loss). */
int sm__net_build(sm__net_graph *g, const sm__net_config *c, int train, double lovasz, uint64_t seed, sm_error *err);

struct sm_model {
    sm__net_config cfg;
    sm__net_graph g;      /* inference graph with the loaded weights */
    int64_t params;
    char meta_steps[64];
};

/* Where a crop lies in a frame: crop pixel (i, j) has its centre at frame (cx + (j - (S-1)/2) * scale,
 * cy + (i - (S-1)/2) * scale). */
typedef struct sm__crop_geom {
    double cx, cy, scale;
} sm__crop_geom;

/* The crop of frame t for an object prior (centre = predicted position, side from its size). */
sm__crop_geom sm__net_geom(const sm__net_config *c, const sm__obj_prior *pr);

/* The neighbours of an object on frame t-1: either crop masks (sessions) or a label plane (W x H) whose
 * labels other than `self` are neighbours (training). */
typedef struct sm__neighbours {
    const sm__crop_mask *const *masks;
    int n;
    const uint16_t *labels;
    int self;
} sm__neighbours;

/* Fills one input sample (sm__net_in_channels, S, S) from the frame window. hist_x/hist_y: the object's
 * position on frames win[1..n_win-1] (NaN unknown: that frame is cropped around the current centre); ahead:
 * frames t+1.. (n_ahead of them, may be 0); prev: the previous mask (frame coordinates) or NULL; prompts as in
 * the prior; nb may be NULL. */
void sm__net_fill_input(const sm__net_config *c, const sm__crop_geom *g, const float *const *win, int n_win,
                        const float *const *ahead, int n_ahead, int W, int H, const double *hist_x, const double *hist_y, const sm__crop_mask *prev,
                        const sm_prompt *prompts, int n_prompts, int polarity, const sm__neighbours *nb, float *input,
                        float *scratch);

/* Turns logits (S x S) and the objectness logit into a mask in frame coordinates: where the logit exceeds
 * mask_logit (sm__net_mask_logit gives it for an object). */
int sm__net_postprocess(const sm__net_config *c, const sm__crop_geom *g, const float *logits, float obj_logit,
                        float mask_logit, int W, int H, sm__seg_out *out, sm_error *err);
float sm__net_mask_logit(const sm__obj_prior *pr);

/* ---------------------------------------------------------------- inside sessions */

typedef struct sm__net_runner sm__net_runner;

int sm__net_runner_create(sm__net_runner **out, const sm_model *m, sm_error *err);
void sm__net_runner_destroy(sm__net_runner *r);
/* Segments n objects at once (one batched forward): priors[k] with hist_x/hist_y[k*SM__NET_HIST ..]. */
int sm__net_segment_batch(sm__net_runner *r, const float *const *win, int n_win, const float *const *ahead,
                          int n_ahead, int W, int H, int n,
                          const sm__obj_prior *const *priors, const double *hist_x, const double *hist_y,
                          sm__seg_out *const *outs, sm_error *err);

#endif
