/* Helpers shared inside src/model: image operations on crops (smoothing, background plane, noise, connected
 * components), the classic segmenter, automatic detection and the network's crop runner. Not public: the
 * public API is include/samem/model.h. All buffers are row-major float or uint8 planes; sizes in px. */
#ifndef SM_MODEL_INTERNAL_H
#define SM_MODEL_INTERNAL_H

#include <stdint.h>
#include "samem/model.h"

/* ---------------------------------------------------------------- image operations (imgproc.c) */

/* Separable Gaussian blur of src (w, h) into dst with std sigma (px), edges clamped; tmp holds w*h floats.
 * dst may equal src. sigma <= 0 copies. */
void sm__gauss_blur(float *dst, const float *src, int w, int h, double sigma, float *tmp);
/* Box mean over (2r+1)^2 with clamped edges, via running sums; tmp holds w*h floats. dst != src. */
void sm__box_blur(float *dst, const float *src, int w, int h, int r, float *tmp);
/* Robust noise std of a plane from differences between pixels `lag` apart (MAD / 0.6745 / sqrt 2);
 * scratch holds w*h floats. */
double sm__noise_std(const float *img, int w, int h, int lag, float *scratch);
/* How many pixels' worth the noise's spatial correlation makes of one: 16 x the variance of 4 x 4 block means
 * over the pixel variance (both from median absolute differences: second differences of blocks 8 px apart, so
 * that gradients cancel, and pixels 2 px apart as sm__noise_std). 1 for white noise, ~1.7 at 0.17 correlation
 * between neighbours, ~6 at 0.67. */
double sm__noise_area(const float *img, int w, int h);
/* Median / quantile of n values (reorders v). */
float sm__quantile(float *v, size_t n, double q);
/* Bright and dark detector rows and columns (REAL_DATA.md: one of each, full length, fixed on the sensor). Find:
 * the rows (columns) whose median difference from the mean of the two neighbouring lines exceeds 6 robust
 * sigma of all lines' such differences (at most SM__MAX_DEFECT_LINES each). Fix: each listed line gets that
 * difference, measured on this frame, subtracted; other lines stay as they are (illumination is smooth).
 * Both return 0 or SM_ENOMEM. */
#define SM__MAX_DEFECT_LINES 16
typedef struct sm__line_defects {
    int rows[SM__MAX_DEFECT_LINES], cols[SM__MAX_DEFECT_LINES];
    int n_rows, n_cols;
} sm__line_defects;
int sm__line_defects_find(const float *img, int w, int h, sm__line_defects *d);
int sm__line_defects_fix(float *img, int w, int h, const sm__line_defects *d);
/* Least-squares plane c0 + c1*x + c2*y through the pixels of img where use[i] != 0, with one pass that
 * drops residuals beyond 3 robust sigma. Returns the count used (0: no plane, c = median-free zeros). */
int sm__plane_fit(const float *img, const uint8_t *use, int w, int h, double c[3]);
/* 8-connected components of the pixels with m[i] != 0; lab gets 1..n (0 background); stack holds w*h ints.
 * Returns n. */
int sm__components(const uint8_t *m, int w, int h, int32_t *lab, int32_t *stack);
/* Fills the holes of a binary mask (pixels not reachable from the border through 0-pixels); stack holds
 * w*h ints, seen w*h bytes. */
void sm__fill_holes(uint8_t *m, int w, int h, int32_t *stack, uint8_t *seen);

/* Clips the inclusive box [x0, x1] x [y0, y1] to a w x h image (it may come out empty: x1 < x0). */
static inline void sm__clip_box(int *x0, int *y0, int *x1, int *y1, int w, int h) {
    if (*x0 < 0) *x0 = 0;
    if (*y0 < 0) *y0 = 0;
    if (*x1 > w - 1) *x1 = w - 1;
    if (*y1 > h - 1) *y1 = h - 1;
}

/* Bounding box (inclusive) of the pixels of a label plane equal to `label`; *x1 = -1 when there is none.
 * Returns the pixel count. */
int64_t sm__label_bbox(const uint16_t *labels, int w, int h, uint16_t label, int *x0, int *y0, int *x1, int *y1);

/* Mask moments: centroid (px, in the mask's own coordinates), area (px^2), angle (rad, CCW on screen),
 * full axis lengths (px, of the ellipse with the same second moments). */
typedef struct sm__moments {
    double area, x, y, angle, major, minor, eccentricity;
} sm__moments;
void sm__mask_moments(const uint8_t *m, int w, int h, sm__moments *mo);

/* ---------------------------------------------------------------- per-object state (session.c) */

/* An object's mask in frame coordinates: a bitmap over the box [x0, x0+w) x [y0, y0+h). */
typedef struct sm__crop_mask {
    int x0, y0, w, h;
    uint8_t *m;   /* (h, w) 0/1 */
    size_t cap;
} sm__crop_mask;

int sm__crop_mask_resize(sm__crop_mask *c, int x0, int y0, int w, int h);

/* What a segmenter needs to know about an object before a frame. */
typedef struct sm__obj_prior {
    double x, y;            /* predicted centre, px */
    double search;          /* px: how far the centre may be from (x, y) */
    int prefer_strong;      /* a lost object: the clearest candidate wins over the nearest */
    double area;            /* expected area px^2 (0 unknown) */
    int size_from_prompt;   /* the object's size follows a person's box (a detection's box misses a faint
                               particle's rim; a point gives no size) */
    double major, minor;    /* expected full axes, px */
    double angle;           /* rad (screen convention) */
    int polarity;           /* -1 dark, +1 bright */
    const sm__crop_mask *prev;  /* previous mask (may be NULL or empty) */
    /* other objects' predicted centres, to keep from stealing a neighbour's blob */
    int n_others;
    const double *others_xy; /* (n_others, 2) px */
    /* the other objects' masks on the previous frame (network input) */
    const sm__crop_mask *const *nb_masks;
    int n_nb;
    /* prompt constraints on this frame (NULL when none) */
    const sm_prompt *prompts;
    int n_prompts;
    int views;              /* network: the mean over this many mirror images of the crop (2 or 4; <= 1: one pass) */
} sm__obj_prior;

typedef struct sm__seg_out {
    sm__crop_mask mask;     /* the object's mask (empty w = 0 when not found) */
    double score;           /* objectness 0..1 */
    double iou_pred;        /* NaN unless the net says */
    double contrast;        /* signed amplitude (raw units) of the blob against its background */
    double noise;           /* raw-noise std in the crop */
} sm__seg_out;

/* Classic segmentation of one object in one frame (classic.c). Scratch is allocated inside (small crops). */
int sm__classic_segment(const float *frame, int W, int H, const sm__obj_prior *pr, sm__seg_out *out, sm_error *err);
/* Estimates an object's prior from its prompts on a frame (centre, size, polarity). */
int sm__prior_from_prompts(const float *frame, int W, int H, const sm_prompt *p, int n, int polarity,
                           sm__obj_prior *pr, sm_error *err);

/* A fitted shape made ready for distances (rotation and polygon normals computed once). */
typedef struct sm__shape_geom {
    double x, y, c, s, a, b;
    sm_shape_kind shape;
    int sides;
    double nx[6], ny[6];
} sm__shape_geom;
void sm__shape_prepare(const sm_refine_result *r, sm__shape_geom *g);
/* Signed distance (px, negative inside) from (x, y) to the boundary of the shape, as its model draws it. */
double sm__shape_distance(const sm__shape_geom *g, double x, double y);
/* For tests (refine.c): the largest gap between the fit's analytic Jacobian and central differences of its
 * model at parameters p (cx, cy, phi, p3, p4, A, B, Bx, By, log s) on a w x h grid, relative per column. */
double sm__refine_jacobian_error(sm_shape_kind shape, const double *p, int w, int h);
/* Sub-pixel refinement on a crop mask (refine.c); cm NULL uses start; hint (may be NULL): a previous fit of
 * the same particle, whose model and rotation are tried alone. */
int sm__refine_mask(const float *frame, int width, int height, const sm__crop_mask *cm, const sm_refine_result *start,
                    sm_shape_kind shape, const sm_refine_result *hint, sm_refine_result *out, sm_error *err);

/* ---------------------------------------------------------------- edge profiles (edge.c) */

/* A particle's values binned by signed distance to its fitted boundary (bins of SM__EDGE_BIN px from
 * -SM__EDGE_IN to SM__EDGE_OUT), summed over frames with a decay. */
#define SM__EDGE_BIN 0.25
#define SM__EDGE_IN 12.0
#define SM__EDGE_OUT 8.0
#define SM__EDGE_BINS 80
typedef struct sm__edge_profile {
    double sum[SM__EDGE_BINS], cnt[SM__EDGE_BINS];
    double half_width; /* px: the fitted shape's, running mean */
    int shape;         /* the fitted model (sm_shape_kind) the distances were taken to */
    int frames;
} sm__edge_profile;
void sm__edge_profile_reset(sm__edge_profile *p);
/* Adds one frame around a converged fit, after scaling what was summed before by `keep` (0..1). */
void sm__edge_profile_add(sm__edge_profile *p, const float *frame, int W, int H, const sm_refine_result *rr,
                          double keep);
/* The offset (px, positive outward) from the fitted boundary to the particle's true one; -1 when the
 * profile holds too little. */
int sm__edge_offset(const sm__edge_profile *p, double *offset);

/* ---------------------------------------------------------------- automatic detection (detect.c) */

typedef struct sm__detection {
    double x, y;        /* px */
    double area;        /* px^2 */
    double x0, y0, x1, y1; /* bounding box, px */
    double cnr;         /* contrast-to-noise of the smoothed blob */
    int touching;       /* split from a blob it shared with another particle (detect.c, split_components) */
} sm__detection;

/* Finds particles in the mean of n frames (each W x H). polarity 0 decides and returns the chosen one in
 * *polarity_out. *out is malloc'ed. */
int sm__detect(const float *const *frames, int n, int W, int H, const sm_segment_options *opt, int polarity,
               sm__detection **out, int *n_out, int *polarity_out, sm_error *err);

#endif
