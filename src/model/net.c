/* The samem network: a small U-Net on object-centred crops with a motion-compensated window of 5 frames,
 * the previous mask, prompt maps and the neighbours' masks as inputs, mask logits and objectness as outputs
 * (net_internal.h lists the channels). Why this shape: per-object crops make the cost grow with the number
 * of objects, not with the image area; registering the past frames on the track lets the noise average out
 * while the particle does not (DESIGN.md, issue 8 measurements); a 4-level U-Net (S/8 bottleneck, 3x3
 * convolutions) sees the whole crop.
 * Architecture (S = 64, b = base channels (8: 41k parameters, 5 ms per crop on one core), GroupNorm + ReLU
 * after every 3x3 convolution):
 *   enc1 2 x conv(b) @S, enc2 2 x conv(2b) @S/2, enc3 2 x conv(4b) @S/4, mid conv(4b) @S/8,
 *   dec3 conv(2b) @S/4 [up(mid) ++ enc3], dec2 conv(b) @S/2 [up ++ enc2], dec1 conv(b) @S [up ++ enc1],
 *   head 1x1 -> 1 mask logit; objectness = linear(global mean of mid ++ global max of mid) -> 1 logit.
 * Loss (training): focal (gamma 2) or BCE, + Dice on the mask, 0.3 x BCE on objectness (BCE with
 * pos_weight 2 made masks of faint particles 2x too large); an optional fine-tuning phase adds the Lovasz
 * hinge (loss_iou).
 * Threads: one batch-1 network per object on one thread, objects in parallel (DESIGN.md; measured here too:
 * one batched pass with threaded small ops and sgemm was 4x slower on 2 busy cores).
 * Left out: rotation compensation of the window, full-resolution crops for large particles, a learned IoU
 * head (the predicted IoU is the soft IoU of the probability map with its own 0.5 threshold). */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <omp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/net_internal.h"

/* ---------------------------------------------------------------- configuration */

void sm__net_config_default(sm__net_config *c) {
    c->crop = 64;
    c->base = 8;
    c->context = 2.0;
    c->margin = 24;
    c->min_side = 32;
    c->future = 0;
    c->past = 4;
}

int sm__net_config_from_json(sm__net_config *c, const char *json, sm_error *err) {
    sm__net_config_default(c);
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return sm_error_set(err, SM_EFORMAT, "network configuration is not a JSON object");
    }
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "crop")) && cJSON_IsNumber(v)) c->crop = v->valueint;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "base")) && cJSON_IsNumber(v)) c->base = v->valueint;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "context")) && cJSON_IsNumber(v)) c->context = v->valuedouble;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "margin")) && cJSON_IsNumber(v)) c->margin = v->valuedouble;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "min_side")) && cJSON_IsNumber(v)) c->min_side = v->valuedouble;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "future")) && cJSON_IsNumber(v)) c->future = v->valueint;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "past")) && cJSON_IsNumber(v)) c->past = v->valueint;
    cJSON_Delete(root);
    if (c->crop < 16 || c->crop > SM__NET_CROP_MAX || c->crop % 8 || c->base < 2 || c->base > 256 || !(c->context > 0) ||
        !(c->min_side > 4) || !(c->margin >= 0) || c->future < 0 || c->future > SM__NET_AHEAD_MAX ||
        c->past < 4 || c->past > SM__NET_PAST_MAX)
        return sm_error_set(err, SM_EFORMAT, "network configuration out of range (crop %d, base %d)", c->crop, c->base);
    return 0;
}

void sm__net_config_to_json(const sm__net_config *c, char *buf, size_t size) {
    snprintf(buf, size,
             "{\"crop\": %d, \"base\": %d, \"context\": %.6g, \"margin\": %.6g, \"min_side\": %.6g, \"future\": %d, "
             "\"past\": %d}",
             c->crop, c->base, c->context, c->margin, c->min_side, c->future, c->past);
}

/* ---------------------------------------------------------------- graph */

/* conv3x3 (no bias) + GroupNorm + ReLU, with sm_nn_conv_block's parameter names. ReLU rather than SiLU:
 * with 8-32 channels the elementwise ops cost as much as the convolutions, and expf dominated them. */
static sm_nn_t block(sm_nn_net *n, const char *name, sm_nn_t x, int out_c) {
    char cn[96], nn[96];
    snprintf(cn, sizeof cn, "%s.conv", name);
    snprintf(nn, sizeof nn, "%s.norm", name);
    int groups = out_c % 8 == 0 ? 8 : out_c % 4 == 0 ? 4 : out_c % 2 == 0 ? 2 : 1;
    sm_nn_t y = sm_nn_conv2d(n, cn, x, out_c, 3, 1, 1, 1, 1, 0);
    y = sm_nn_groupnorm(n, nn, y, groups, 1e-5f);
    return sm_nn_act(n, y, SM_NN_RELU);
}

int sm__net_build(sm__net_graph *g, const sm__net_config *c, int train, double lovasz, uint64_t seed, sm_error *err) {
    memset(g, 0, sizeof *g);
    int S = c->crop, b = c->base;
    sm_nn_net *n = sm_nn_create(seed);
    if (!n) return sm_error_set(err, SM_ENOMEM, "network: out of memory");
    g->net = n;
    g->in = sm_nn_input(n, "input", sm__net_in_channels(c), S, S);
    sm_nn_t e1 = block(n, "enc1a", g->in, b);
    e1 = block(n, "enc1b", e1, b);
    sm_nn_t e2 = block(n, "enc2a", sm_nn_pool(n, e1, SM_NN_MAX, 2, 2, 0), 2 * b);
    e2 = block(n, "enc2b", e2, 2 * b);
    sm_nn_t e3 = block(n, "enc3a", sm_nn_pool(n, e2, SM_NN_MAX, 2, 2, 0), 4 * b);
    e3 = block(n, "enc3b", e3, 4 * b);
    sm_nn_t mid = block(n, "mid", sm_nn_pool(n, e3, SM_NN_MAX, 2, 2, 0), 4 * b);
    sm_nn_t d3 = block(n, "dec3", sm_nn_concat2(n, sm_nn_upsample(n, mid, 2, SM_NN_NEAREST), e3), 2 * b);
    sm_nn_t d2 = block(n, "dec2", sm_nn_concat2(n, sm_nn_upsample(n, d3, 2, SM_NN_NEAREST), e2), b);
    sm_nn_t d1 = block(n, "dec1", sm_nn_concat2(n, sm_nn_upsample(n, d2, 2, SM_NN_NEAREST), e1), b);
    g->logits = sm_nn_conv2d(n, "head", d1, 1, 1, 1, 0, 1, 1, 1);
    sm_nn_t pooled = sm_nn_concat2(n, sm_nn_global_pool(n, mid, SM_NN_AVG), sm_nn_global_pool(n, mid, SM_NN_MAX));
    g->obj = sm_nn_linear(n, "objectness", pooled, 1, 1);
    g->mask_gt = g->obj_gt = g->weight_gt = g->loss = g->loss_iou = SM_NN_NONE;
    if (train) {
        g->mask_gt = sm_nn_input(n, "mask_gt", 1, S, S);
        g->obj_gt = sm_nn_input(n, "obj_gt", 1, 1, 1);
        sm_nn_t pix = train == 2 ? sm_nn_scale(n, sm_nn_loss_focal(n, g->logits, g->mask_gt, -1.0f, 2.0f), 4.0f)
                                 : sm_nn_loss_bce(n, g->logits, g->mask_gt, 1.0f);
        sm_nn_t l = sm_nn_add(n, pix, sm_nn_loss_dice(n, g->logits, g->mask_gt, 1.0f));
        l = sm_nn_add(n, l, sm_nn_scale(n, sm_nn_loss_bce(n, g->obj, g->obj_gt, 1.0f), 0.3f));
        g->loss = l;
        if (lovasz > 0)
            g->loss_iou = sm_nn_add(n, l, sm_nn_scale(n, sm_nn_loss_lovasz(n, g->logits, g->mask_gt), (float)lovasz));
    }
    int rc = sm_nn_compile(n, err);
    if (rc < 0) {
        sm_nn_destroy(n);
        g->net = NULL;
        return sm_error_prefix(err, "network");
    }
    return 0;
}

/* ---------------------------------------------------------------- crops */

sm__crop_geom sm__net_geom(const sm__net_config *c, const sm__obj_prior *pr) {
    double len = fmax(pr->major, 2.0 * sqrt(fmax(pr->area, 4.0) / M_PI));
    double side = fmax(c->min_side, c->context * len + c->margin);
    sm__crop_geom g = {.cx = pr->x, .cy = pr->y, .scale = side / c->crop};
    return g;
}

/* One coordinate of a bilinear read, clamped to [0, n - 1]: the lower index, the upper one (the same at the
 * last pixel) and the fraction. */
typedef struct tap {
    int i0, i1;
    double f;
} tap;

static inline tap make_tap(double v, int n) {
    if (v < 0) v = 0;
    if (v > n - 1) v = n - 1;
    tap t = {.i0 = (int)v};
    t.i1 = t.i0 + 1 < n ? t.i0 + 1 : t.i0;
    t.f = v - t.i0;
    return t;
}

/* The bilinear read of f (rows of W) at the taps tx, ty. */
static inline float tap_read(const float *f, int W, const tap *tx, const tap *ty) {
    const float *r0 = f + (size_t)ty->i0 * W, *r1 = f + (size_t)ty->i1 * W;
    double fx = tx->f, fy = ty->f;
    return (float)((1 - fy) * ((1 - fx) * r0[tx->i0] + fx * r0[tx->i1]) + fy * ((1 - fx) * r1[tx->i0] + fx * r1[tx->i1]));
}

static inline float bilinear(const float *f, int W, int H, double x, double y) {
    tap tx = make_tap(x, W), ty = make_tap(y, H);
    return tap_read(f, W, &tx, &ty);
}

/* Samples frame f on the crop grid centred at (cx, cy), averaging k x k points per crop pixel. The read
 * positions are separable (x depends on the column, y on the row), so their taps are computed once per
 * column and row instead of per sample (the same values as bilinear() at each point, at a fraction of the cost;
 * this was a tenth of a session's time). */
static void sample_crop(const float *f, int W, int H, double cx, double cy, double scale, int S, float *out) {
    enum { K_MAX = 4 }; /* the most points averaged along each axis per crop pixel */
    int k = (int)ceil(scale - 1e-6);
    if (k < 1) k = 1;
    if (k > K_MAX) k = K_MAX;
    double half = (S - 1) / 2.0;
    tap tx[SM__NET_CROP_MAX * K_MAX], ty[SM__NET_CROP_MAX * K_MAX];
    for (int j = 0; j < S; j++)
        for (int b = 0; b < k; b++) {
            double x = cx + (j - half) * scale;
            tx[j * k + b] = make_tap(x + ((b + 0.5) / k - 0.5) * scale, W);
        }
    for (int i = 0; i < S; i++)
        for (int a = 0; a < k; a++) {
            double y = cy + (i - half) * scale;
            ty[i * k + a] = make_tap(y + ((a + 0.5) / k - 0.5) * scale, H);
        }
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) {
            double acc = 0;
            for (int a = 0; a < k; a++)
                for (int b = 0; b < k; b++) acc += tap_read(f, W, &tx[j * k + b], &ty[i * k + a]);
            out[i * S + j] = (float)(acc / (k * k));
        }
}

static void normalise(float *p, int n, int polarity, float *scratch) {
    memcpy(scratch, p, sizeof(float) * (size_t)n);
    float med = sm__quantile(scratch, (size_t)n, 0.5);
    for (int i = 0; i < n; i++) scratch[i] = fabsf(p[i] - med);
    float mad = sm__quantile(scratch, (size_t)n, 0.5);
    float sd = mad / 0.6745f;
    if (!(sd > 1e-12f)) sd = 1;
    float s = (polarity >= 0 ? 1.0f : -1.0f) / sd;
    for (int i = 0; i < n; i++) {
        float v = (p[i] - med) * s;
        p[i] = v > 10 ? 10 : v < -10 ? -10 : v;
    }
}

void sm__net_fill_input(const sm__net_config *c, const sm__crop_geom *g, const float *const *win, int n_win,
                        const float *const *ahead, int n_ahead, int W, int H, const double *hist_x, const double *hist_y, const sm__crop_mask *prev,
                        const sm_prompt *prompts, int n_prompts, int polarity, const sm__neighbours *nb, float *input,
                        float *scratch) {
    int S = c->crop, n = S * S;
    double half = (S - 1) / 2.0;
    memset(input, 0, sizeof(float) * (size_t)sm__net_in_channels(c) * n);
    /* frames ahead, around the predicted centre; past the end of the video the nearest one we have */
    for (int k = 0; k < c->future; k++) {
        float *ch = input + (size_t)(SM__NET_IN + k) * n;
        const float *src = k < n_ahead && ahead[k] ? ahead[k] : NULL;
        for (int q = k - 1; !src && q >= 0; q--)
            if (q < n_ahead && ahead[q]) src = ahead[q];
        if (!src) src = win[0];
        sample_crop(src, W, H, g->cx, g->cy, g->scale, S, ch);
        normalise(ch, n, polarity, scratch);
    }
    for (int k = 0; k <= c->past; k++) {
        float *ch = input + (size_t)(k < 5 ? k : SM__NET_IN + c->future + k - 5) * n;
        int src = k < n_win && win[k] ? k : 0;
        double cx = g->cx, cy = g->cy;
        if (src == k && k > 0 && isfinite(hist_x[k - 1]) && isfinite(hist_y[k - 1])) cx = hist_x[k - 1], cy = hist_y[k - 1];
        if (src != k) {
            /* the window is shorter (start of the video): repeat the oldest frame we have */
            src = 0;
            for (int q = k; q >= 0; q--)
                if (q < n_win && win[q]) {
                    src = q;
                    break;
                }
            if (src > 0 && isfinite(hist_x[src - 1])) cx = hist_x[src - 1], cy = hist_y[src - 1];
        }
        sample_crop(win[src], W, H, cx, cy, g->scale, S, ch);
        normalise(ch, n, polarity, scratch);
    }
    /* previous mask, cropped like frame t-1 */
    if (prev && prev->w > 0) {
        double cx = g->cx, cy = g->cy;
        if (isfinite(hist_x[0]) && isfinite(hist_y[0])) cx = hist_x[0], cy = hist_y[0];
        float *ch = input + (size_t)5 * n;
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                int x = (int)lround(cx + (j - half) * g->scale) - prev->x0, y = (int)lround(cy + (i - half) * g->scale) - prev->y0;
                if (x >= 0 && y >= 0 && x < prev->w && y < prev->h && prev->m[(size_t)y * prev->w + x]) ch[i * S + j] = 1;
            }
    }
    /* neighbours, cropped like frame t-1 */
    if (nb && (nb->n > 0 || nb->labels)) {
        double cx = g->cx, cy = g->cy;
        if (isfinite(hist_x[0]) && isfinite(hist_y[0])) cx = hist_x[0], cy = hist_y[0];
        float *ch = input + (size_t)8 * n;
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                int x = (int)lround(cx + (j - half) * g->scale), y = (int)lround(cy + (i - half) * g->scale);
                if (x < 0 || y < 0 || x >= W || y >= H) continue;
                int on = 0;
                if (nb->labels) {
                    uint16_t l = nb->labels[(size_t)y * W + x];
                    on = l && l != nb->self;
                }
                for (int q = 0; q < nb->n && !on; q++) {
                    const sm__crop_mask *m = nb->masks[q];
                    int u = x - m->x0, v = y - m->y0;
                    on = u >= 0 && v >= 0 && u < m->w && v < m->h && m->m[(size_t)v * m->w + u];
                }
                if (on) ch[i * S + j] = 1;
            }
    }
    /* prompt maps */
    for (int p = 0; p < n_prompts; p++) {
        const sm_prompt *q = &prompts[p];
        float *ch = input + (size_t)(q->kind == SM_PROMPT_POINT && q->negative ? 7 : 6) * n;
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                double x = g->cx + (j - half) * g->scale, y = g->cy + (i - half) * g->scale;
                int on;
                if (q->kind == SM_PROMPT_BOX) on = x >= q->x0 && x <= q->x1 && y >= q->y0 && y <= q->y1;
                else on = hypot((x - q->x) / g->scale, (y - q->y) / g->scale) <= 2.0;
                if (on) ch[i * S + j] = 1;
            }
    }
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* The mask is where the logit exceeds -0.5 (probability 0.38), not 0: trained with focal loss, the network's
 * masks came out 3-13% too small in area on every preset (median area ratio 0.96 / 0.97 / 0.87 thin / medium
 * / thick on 12 simulated videos); at -0.5 the ratios are 1.00 / 1.00 / 1.10 and mean IoU rose from
 * 0.832 / 0.752 / 0.538 to 0.841 / 0.757 / 0.563 (-0.3 and -0.7 scored lower, -1.0 lower still). */
#define SM__NET_MASK_LOGIT (-0.5f)

/* Objects expected smaller than SM__NET_SMALL_AREA px^2 (about 10 px across) are drawn at logit 0: their masks
 * came out too large instead (area 1.4-2.9 times the truth's for faint 20-40 px^2 particles), and at logit 0 the
 * benchmark's small-particle videos (6-12 px) scored 0.568 / 0.452 -> 0.593 / 0.469 (thin / medium; 4 other
 * such videos +0.020 on average); the benchmark within 0.001, 24 other videos -0.001 / 0.000 / +0.008 (sums).
 * Only for objects whose size a person's box gave (size_from_prompt): for objects found by the
 * detector --auto on 24 videos lost 0.004-0.016, and with point prompts the benchmark's medium lost 0.005. */
#define SM__NET_SMALL_AREA 80.0
#define SM__NET_SMALL_MASK_LOGIT 0.0f

float sm__net_mask_logit(const sm__obj_prior *pr) {
    return pr->size_from_prompt && pr->area > 0 && pr->area < SM__NET_SMALL_AREA ? SM__NET_SMALL_MASK_LOGIT
                                                                                  : SM__NET_MASK_LOGIT;
}

int sm__net_postprocess(const sm__net_config *c, const sm__crop_geom *g, const float *logits, float obj_logit,
                        float mask_logit, int W, int H, sm__seg_out *out, sm_error *err) {
    int S = c->crop;
    double half = (S - 1) / 2.0;
    out->score = sigmoid(obj_logit);
    out->contrast = 0;
    out->noise = 0;
    /* soft IoU of the probability map with its own 0.5 threshold: a confidence in the mask's shape */
    double inter = 0, uni = 0;
    for (int i = 0; i < S * S; i++) {
        double p = sigmoid(logits[i]);
        int m = logits[i] > 0;
        inter += m ? p : 0;
        uni += m ? 1 : p;
    }
    out->iou_pred = uni > 0 ? inter / uni : 0;
    double side = S * g->scale;
    int x0 = (int)floor(g->cx - side / 2), x1 = (int)ceil(g->cx + side / 2);
    int y0 = (int)floor(g->cy - side / 2), y1 = (int)ceil(g->cy + side / 2);
    sm__clip_box(&x0, &y0, &x1, &y1, W, H);
    if (sm__crop_mask_resize(&out->mask, x0, y0, 0, 0) < 0) return sm_error_set(err, SM_ENOMEM, "network: out of memory");
    if (x1 < x0 || y1 < y0) return 0;
    int w = x1 - x0 + 1, h = y1 - y0 + 1;
    size_t n = (size_t)w * h;
    uint8_t *m = malloc(n), *seen = malloc(n);
    int32_t *lab = malloc(n * sizeof(int32_t)), *stack = malloc(n * sizeof(int32_t));
    float *prob = malloc(n * sizeof(float));
    if (!m || !seen || !lab || !stack || !prob) {
        free(m), free(seen), free(lab), free(stack), free(prob);
        return sm_error_set(err, SM_ENOMEM, "network: out of memory");
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            /* frame pixel -> crop coordinates, bilinear on the logits */
            double u = (x0 + x - g->cx) / g->scale + half, v = (y0 + y - g->cy) / g->scale + half;
            float l = (u < -0.5 || v < -0.5 || u > S - 0.5 || v > S - 0.5) ? -10.0f : bilinear(logits, S, S, u, v);
            prob[(size_t)y * w + x] = l;
            m[(size_t)y * w + x] = l > mask_logit;
        }
    /* keep the component with the largest summed logit margin (the object; stray noise blobs are small) */
    int nc = sm__components(m, w, h, lab, stack);
    int best = 0;
    if (nc > 0) {
        double *sum = calloc((size_t)nc + 1, sizeof(double));
        if (sum) {
            for (size_t i = 0; i < n; i++)
                if (lab[i]) sum[lab[i]] += prob[i];
            double bv = 0;
            for (int l = 1; l <= nc; l++)
                if (sum[l] > bv) bv = sum[l], best = l;
            free(sum);
        }
    }
    int bx0 = w, by0 = h, bx1 = -1, by1 = -1;
    if (best) {
        for (size_t i = 0; i < n; i++) m[i] = lab[i] == best;
        sm__fill_holes(m, w, h, stack, seen);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (m[(size_t)y * w + x]) {
                    if (x < bx0) bx0 = x;
                    if (x > bx1) bx1 = x;
                    if (y < by0) by0 = y;
                    if (y > by1) by1 = y;
                }
    }
    int rc = 0;
    if (bx1 >= 0) {
        if (sm__crop_mask_resize(&out->mask, x0 + bx0, y0 + by0, bx1 - bx0 + 1, by1 - by0 + 1) < 0) {
            rc = sm_error_set(err, SM_ENOMEM, "network: out of memory");
        } else {
            for (int y = by0; y <= by1; y++)
                memcpy(out->mask.m + (size_t)(y - by0) * out->mask.w, m + (size_t)y * w + bx0, (size_t)out->mask.w);
        }
    }
    free(m), free(seen), free(lab), free(stack), free(prob);
    return rc;
}

/* ---------------------------------------------------------------- weights */

int sm_model_load(sm_model **out, const char *path, sm_error *err) {
    *out = NULL;
    sm_nn_st *st;
    int rc = sm_nn_st_read(path, &st, err);
    if (rc < 0) return rc;
    const char *cfg_json = sm_nn_st_meta(st, "samem_net");
    if (!cfg_json) {
        sm_nn_st_destroy(st);
        return sm_error_set(err, SM_EFORMAT, "%s: not samem network weights (no \"samem_net\" metadata)", path);
    }
    sm_model *m = calloc(1, sizeof *m);
    if (!m) {
        sm_nn_st_destroy(st);
        return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    if ((rc = sm__net_config_from_json(&m->cfg, cfg_json, err)) < 0 || (rc = sm__net_build(&m->g, &m->cfg, 0, 0, 1, err)) < 0 ||
        (rc = sm_nn_load_st(m->g.net, st, path, err)) < 0) {
        sm_nn_st_destroy(st);
        sm_model_destroy(m);
        return rc;
    }
    const char *steps = sm_nn_st_meta(st, "steps");
    snprintf(m->meta_steps, sizeof m->meta_steps, "%s", steps ? steps : "");
    m->params = (int64_t)sm_nn_param_total(m->g.net);
    sm_nn_st_destroy(st);
    *out = m;
    return 0;
}

void sm_model_destroy(sm_model *m) {
    if (!m) return;
    sm_nn_destroy(m->g.net);
    free(m);
}

int64_t sm_model_param_count(const sm_model *m) { return m ? m->params : 0; }

const char *sm_model_default_path(const char *exe_path, char *buf, size_t size) {
    const char *env = getenv("SAMEM_WEIGHTS");
    if (env && *env && access(env, R_OK) == 0) {
        snprintf(buf, size, "%s", env);
        return buf;
    }
    /* beside the executable (install), one and two levels up (build trees), then the working directory */
    if (exe_path) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", exe_path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        const char *rel[] = {"models/samem.safetensors", "../models/samem.safetensors", "../../models/samem.safetensors",
                             "../share/samem/models/samem.safetensors"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(buf, size, "%s/%s", dir, rel[i]);
            if (access(buf, R_OK) == 0) return buf;
        }
    }
    snprintf(buf, size, "models/samem.safetensors");
    if (access(buf, R_OK) == 0) return buf;
    return NULL;
}

/* ---------------------------------------------------------------- runner */

struct sm__net_runner {
    const sm_model *m;
    int n_ctx;
    sm_nn_ctx **ctx;     /* one batch-1 inference context per OpenMP thread */
    float **scratch;     /* (S*S) per thread */
    int cap;             /* objects the per-object buffers below hold */
    float *inputs;       /* (cap, in channels, S, S): each object's input */
    float *view_logits;  /* (cap, 4, S, S): each object's logits per mirrored view */
    float *view_obj;     /* (cap, 4): each object's objectness logit per view */
};

int sm__net_runner_create(sm__net_runner **out, const sm_model *m, sm_error *err) {
    *out = NULL;
    sm__net_runner *r = calloc(1, sizeof *r);
    if (!r) return sm_error_set(err, SM_ENOMEM, "network: out of memory");
    r->m = m;
    r->n_ctx = omp_get_max_threads();
    if (r->n_ctx < 1) r->n_ctx = 1;
    r->ctx = calloc((size_t)r->n_ctx, sizeof *r->ctx);
    r->scratch = calloc((size_t)r->n_ctx, sizeof *r->scratch);
    if (!r->ctx || !r->scratch) {
        sm__net_runner_destroy(r);
        return sm_error_set(err, SM_ENOMEM, "network: out of memory");
    }
    for (int i = 0; i < r->n_ctx; i++) {
        r->ctx[i] = sm_nn_ctx_create(m->g.net, 1, SM_NN_INFER, err);
        r->scratch[i] = malloc(sizeof(float) * (size_t)m->cfg.crop * m->cfg.crop);
        if (!r->ctx[i] || !r->scratch[i]) {
            int rc = r->ctx[i] ? sm_error_set(err, SM_ENOMEM, "network: out of memory") : (err && err->code ? err->code : SM_ENOMEM);
            sm__net_runner_destroy(r);
            return rc;
        }
    }
    /* one network per object and thread, objects in parallel: OpenBLAS's own threads would only fight the
     * OpenMP ones (measured: 4x slower with both); this is process-wide, as OPENBLAS_NUM_THREADS=1 would be */
    openblas_set_num_threads(1);
    *out = r;
    return 0;
}

void sm__net_runner_destroy(sm__net_runner *r) {
    if (!r) return;
    for (int i = 0; i < r->n_ctx; i++) {
        if (r->ctx) sm_nn_ctx_destroy(r->ctx[i]);
        if (r->scratch) free(r->scratch[i]);
    }
    free(r->ctx);
    free(r->scratch);
    free(r->inputs), free(r->view_logits), free(r->view_obj);
    free(r);
}

/* Flips every channel of the (S, S) planes in place: along x when fx, along y when fy. */
static void flip_planes(float *p, int n_planes, int S, int fx, int fy) {
    for (int ch = 0; ch < n_planes; ch++, p += (size_t)S * S)
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                int a = i * S + j, b = (fy ? S - 1 - i : i) * S + (fx ? S - 1 - j : j);
                if (b > a) {
                    float t = p[a];
                    p[a] = p[b], p[b] = t;
                }
            }
}

/* Makes room for n objects in the runner's per-object buffers. Returns 0 or SM_ENOMEM. */
static int runner_reserve(sm__net_runner *r, int n) {
    if (n <= r->cap) return 0;
    size_t plane = (size_t)r->m->cfg.crop * r->m->cfg.crop, n_in = (size_t)sm__net_in_channels(&r->m->cfg);
    float *in = realloc(r->inputs, sizeof(float) * (size_t)n * n_in * plane);
    if (in) r->inputs = in;
    float *lg = realloc(r->view_logits, sizeof(float) * (size_t)n * 4 * plane);
    if (lg) r->view_logits = lg;
    float *ob = realloc(r->view_obj, sizeof(float) * (size_t)n * 4);
    if (ob) r->view_obj = ob;
    if (!in || !lg || !ob) return SM_ENOMEM;
    r->cap = n;
    return 0;
}

/* Faint objects' answer is the mean over `views` (2 or 4) mirror images of their input (prior->views). Why: at
 * low contrast-to-noise a single pass's mask follows the noise; the mirrored passes see the same noise in
 * other places of the receptive field, and their mean is steadier (the training's particles have every
 * orientation, so mirror images are as likely as the original). Each (object, view) pass is a task of its
 * own: with an object's views in one task, 5 objects on 2 threads left one thread idle while the other ran a
 * faint object's four passes. */
int sm__net_segment_batch(sm__net_runner *r, const float *const *win, int n_win, const float *const *ahead,
                          int n_ahead, int W, int H, int n,
                          const sm__obj_prior *const *priors, const double *hist_x, const double *hist_y,
                          sm__seg_out *const *outs, sm_error *err) {
    if (n <= 0) return 0;
    const sm__net_config *c = &r->m->cfg;
    int S = c->crop, n_in = sm__net_in_channels(c);
    size_t plane = (size_t)S * S;
    int *task_obj = malloc(sizeof(int) * (size_t)n * 4), *task_view = malloc(sizeof(int) * (size_t)n * 4);
    int *views = malloc(sizeof(int) * (size_t)n);
    sm__crop_geom *geom = malloc(sizeof *geom * (size_t)n);
    if (!task_obj || !task_view || !views || !geom || runner_reserve(r, n) < 0) {
        free(task_obj), free(task_view), free(views), free(geom);
        return sm_error_set(err, SM_ENOMEM, "network: out of memory");
    }
    int n_tasks = 0;
    for (int k = 0; k < n; k++) {
        views[k] = priors[k]->views > 1 ? (priors[k]->views > 4 ? 4 : priors[k]->views) : 1;
        for (int v = 0; v < views[k]; v++) task_obj[n_tasks] = k, task_view[n_tasks] = v, n_tasks++;
    }
    int fail = 0;
    sm_error ferr = {0};
    /* each object's input, once */
#pragma omp parallel for schedule(dynamic, 1) num_threads(r->n_ctx)
    for (int k = 0; k < n; k++) {
        int tid = omp_get_thread_num();
        if (tid >= r->n_ctx) tid = 0; /* cannot happen with num_threads(n_ctx) */
        const sm__obj_prior *pr = priors[k];
        geom[k] = sm__net_geom(c, pr);
        sm__net_fill_input(c, &geom[k], win, n_win, ahead, n_ahead, W, H, hist_x + k * SM__NET_HIST,
                           hist_y + k * SM__NET_HIST, pr->prev, pr->prompts, pr->n_prompts, pr->polarity,
                           &(sm__neighbours){.masks = pr->nb_masks, .n = pr->n_nb},
                           r->inputs + (size_t)k * n_in * plane, r->scratch[tid]);
    }
    /* every (object, view) pass: view v is the input mirrored along x when bit 0 of v is set, along y when bit
     * 1 is; its logits are mirrored back */
#pragma omp parallel for schedule(dynamic, 1) num_threads(r->n_ctx)
    for (int q = 0; q < n_tasks; q++) {
        int tid = omp_get_thread_num();
        if (tid >= r->n_ctx) tid = 0;
        sm_nn_ctx *ctx = r->ctx[tid];
        int k = task_obj[q], v = task_view[q];
        float *in = sm_nn_ctx_data(ctx, r->m->g.in);
        memcpy(in, r->inputs + (size_t)k * n_in * plane, sizeof(float) * (size_t)n_in * plane);
        if (v) flip_planes(in, n_in, S, v & 1, v & 2);
        sm_error e = {0};
        if (sm_nn_forward(ctx, &e) < 0) {
#pragma omp critical
            {
                fail = 1;
                ferr = e;
            }
            continue;
        }
        float *lg = r->view_logits + ((size_t)k * 4 + v) * plane;
        memcpy(lg, sm_nn_ctx_data(ctx, r->m->g.logits), sizeof(float) * plane);
        if (v) flip_planes(lg, 1, S, v & 1, v & 2);
        r->view_obj[k * 4 + v] = sm_nn_ctx_data(ctx, r->m->g.obj)[0];
    }
    /* the mean over the views (summed in view order), then each object's mask; skipped after a failed pass (fail
     * is read between the parallel loops: read inside one while another thread sets it, it was a data race) */
    if (!fail) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(r->n_ctx)
        for (int k = 0; k < n; k++) {
            float *acc = r->view_logits + (size_t)k * 4 * plane, obj = r->view_obj[k * 4];
            if (views[k] > 1) {
                double obj_sum = obj;
                for (int v = 1; v < views[k]; v++) {
                    const float *lg = acc + (size_t)v * plane;
                    for (size_t i = 0; i < plane; i++) acc[i] += lg[i];
                    obj_sum += r->view_obj[k * 4 + v];
                }
                for (size_t i = 0; i < plane; i++) acc[i] = acc[i] / views[k];
                obj = (float)(obj_sum / views[k]);
            }
            sm_error e = {0};
            if (sm__net_postprocess(c, &geom[k], acc, obj, sm__net_mask_logit(priors[k]), W, H, outs[k], &e) < 0) {
#pragma omp critical
                {
                    fail = 1;
                    ferr = e;
                }
            }
        }
    }
    free(task_obj), free(task_view), free(views), free(geom);
    if (fail) {
        if (err) *err = ferr;
        return ferr.code ? ferr.code : SM_EINTERNAL;
    }
    return 0;
}
