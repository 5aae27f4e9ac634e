/* samem model: promptable segmentation and tracking of particles in LPTEM videos.
 *
 * Usage:
 *     sm_error err = {0};
 *     sm_video *v;  sm_video_open(&v, "run.tif", &err);
 *     sm_segment_options opt;  sm_segment_options_default(&opt);
 *     opt.method = SM_METHOD_CLASSIC;                 // or SM_METHOD_NET with opt.model = a loaded sm_model
 *     sm_session *s;
 *     if (sm_session_open(&s, v, &opt, &err) < 0) ...;
 *     sm_prompt p;
 *     sm_prompt_parse_box("1:100,120,140,150", 0, &p, &err);   // object 1, box on frame 0 (px)
 *     sm_session_add_prompt(s, &p, &err);
 *     sm_session_propagate(s, on_frame, user, &err);  // on_frame(result, user) once per frame, in frame order
 *     sm_session_close(s);
 *
 * Prompts: a box (X0,Y0,X1,Y1 in px, corners inclusive) or positive/negative points for an object id
 * (1..65535) on any frame. Propagation runs backward from each object's first prompt down to frame 0 and
 * forward from there to the last frame; a later prompt for the same id re-initialises the object there and
 * the correction carries forward. Results reach the callback in increasing frame order: the backward part is
 * kept run-length encoded until its frames are due, so memory stays bounded by a few frames and the masks.
 * An object that leaves the field or fades gets a low objectness score and no mask (visible = 0) and is
 * searched for again in the following frames, in a window that grows while it stays lost.
 * Automatic mode (opt.auto_detect) adds every particle the detector finds on the first frames (filtered by
 * size and contrast) and new ones that appear later, as new ids.
 *
 * Methods: SM_METHOD_CLASSIC is the baseline (background plane, Gaussian smoothing scaled to the object,
 * threshold at half the object's contrast, connected components, blob nearest the predicted position);
 * SM_METHOD_NET runs the samem network (src/model/net.c) on object-centred crops with a motion-compensated
 * window of frames. Both end with the optional sub-pixel refinement (sm_refine_fit), which fits a blurred
 * shape model to the frame and gives centroid, orientation and size with 1-sigma uncertainties.
 *
 * Coordinates in px, x to the right, y down, the centre of the top-left pixel at (0, 0); angles in rad,
 * counter-clockwise from +x as seen on screen, in (-pi/2, pi/2] (as in samem/tracks.h).
 * A session is not thread-safe; it runs OpenMP loops across objects inside propagate.
 */
#ifndef SAMEM_MODEL_H
#define SAMEM_MODEL_H

#include <stdint.h>
#include "samem/common.h"
#include "samem/io.h"
#include "samem/tracks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- prompts */

typedef enum sm_prompt_kind { SM_PROMPT_BOX = 0, SM_PROMPT_POINT = 1 } sm_prompt_kind;

typedef struct sm_prompt {
    sm_prompt_kind kind;
    int object_id;          /* 1..65535: the label the object gets in masks.tif */
    int64_t frame;          /* 0-based frame the prompt is drawn on */
    double x0, y0, x1, y1;  /* box corners, px (x0 <= x1, y0 <= y1 after parsing) */
    double x, y;            /* point, px */
    int negative;           /* point: 1 = this pixel is NOT the object */
} sm_prompt;

/* "ID:X0,Y0,X1,Y1" (corners in any order). SM_EUSAGE with a message naming the text on a bad string. */
int sm_prompt_parse_box(const char *text, int64_t frame, sm_prompt *out, sm_error *err);
/* "ID:X,Y" or "ID:X,Y:neg" (also ":pos"). */
int sm_prompt_parse_point(const char *text, int64_t frame, sm_prompt *out, sm_error *err);
/* A JSON file: either a list or {"prompts": [...]} of objects
 *   {"id": 1, "frame": 0, "box": [x0, y0, x1, y1]}  or  {"id": 2, "frame": 5, "point": [x, y], "negative": false}
 * ("frame" defaults to 0, "label": 0 means negative as in SAM). *out is malloc'ed (caller frees), *n its count. */
int sm_prompts_read_json(const char *path, sm_prompt **out, int *n, sm_error *err);

/* ---------------------------------------------------------------- the network's weights */

typedef struct sm_model sm_model;

/* Loads a samem safetensors file (architecture in its metadata). SM_EFORMAT when it is not one. */
int sm_model_load(sm_model **out, const char *path, sm_error *err);
void sm_model_destroy(sm_model *m);
/* Number of trainable parameters. */
int64_t sm_model_param_count(const sm_model *m);
/* The path of the weights shipped with samem, found beside the executable or in the source tree
 * (models/samem.safetensors); NULL when none is found. exe_path may be NULL. */
const char *sm_model_default_path(const char *exe_path, char *buf, size_t size);

/* ---------------------------------------------------------------- training */

/* One line of the training log. */
typedef struct sm_train_report {
    int64_t step, total_steps;
    double seconds;          /* training time so far, including earlier runs before a resume, s */
    double loss;             /* running mean of the training loss */
    double lr;
    int has_val;             /* the validation fields below are fresh */
    double val_iou[3];       /* mean mask IoU on the fixed validation crops of the thin, medium, thick presets */
    double val_obj_acc;      /* objectness accuracy on them (present/absent at 0.5) */
} sm_train_report;

/* Called after every logged step; return non-zero to stop (a checkpoint is written first). */
typedef int (*sm_train_callback)(const sm_train_report *r, void *user);

/* Trains the network from a JSON configuration (models/samem.json: seed, network size, steps, batch,
 * learning rate, simulator mix) on clips generated on the fly by the simulator, and writes out_path
 * (safetensors with the configuration and provenance in its metadata). Alongside: out_path.ckpt (a
 * checkpoint every checkpoint_every steps) and out_path.log.csv (step, seconds, loss, validation scores).
 * resume = 1 continues from out_path.ckpt when it exists (the data stream depends only on the seed and the
 * step, so a resumed run sees the same samples, and the checkpoint holds AdamW's moments: the result is the
 * same as an uninterrupted run's). max_minutes > 0 fits the run in
 * that time: at the end of the warm-up the step count is cut to what the measured speed allows (the
 * metadata's "steps" then reproduces the schedule), and the run stops at the time limit in any case. */
int sm_model_train(const char *config_path, const char *out_path, int resume, double max_minutes,
                   sm_train_callback cb, void *user, sm_error *err);

/* ---------------------------------------------------------------- sub-pixel refinement */

typedef enum sm_shape_kind {
    SM_SHAPE_AUTO = 0,        /* ellipse; a spherocylinder when the mask is elongated and it fits better; a
                                 polygon when it fits significantly better than both (faceted particles) */
    SM_SHAPE_ELLIPSE = 1,     /* disks are ellipses with equal axes */
    SM_SHAPE_SPHEROCYL = 2,   /* a rod with round caps */
    SM_SHAPE_NONE = 3,        /* no refinement: mask moments only */
    SM_SHAPE_TRIANGLE = 4,    /* polygons: regular, stretched along their axes (a prism's triangle) */
    SM_SHAPE_SQUARE = 5,      /* a cube's square, or a rectangle */
    SM_SHAPE_HEXAGON = 6,     /* a hexagonal platelet */
} sm_shape_kind;

typedef struct sm_refine_result {
    int ok;                     /* the fit converged and was kept */
    sm_shape_kind shape;        /* the model that was kept */
    double x, y, x_err, y_err;  /* centre, px, with 1-sigma errors */
    double angle, angle_err;    /* rad */
    double major, minor;        /* full lengths along and across the long axis, px */
    double major_err, minor_err;
    double amplitude;           /* particle minus background, raw units (negative for dark particles) */
    double background;          /* raw units */
    double edge_sigma;          /* px: the edge's Gaussian blur */
    double noise;               /* residual std, raw units */
    double chi2_red;            /* reduced chi-square against the noise estimate */
    /* the model's own parameters, enough to draw it (sm_refine_render): rotation of the model frame (rad,
     * image frame, y down) and its two sizes (ellipse: semi-axes; spherocylinder: half-length of the core
     * and radius; polygon: inradius along and across) */
    double phi, size_a, size_b;
} sm_refine_result;

/* Fits a shape model blurred by a Gaussian edge to `frame` (width x height, raw values) around the object
 * whose mask is given as a label plane (pixels equal to `label`) or, when labels is NULL, as a start guess
 * in `start` (x, y, angle, major, minor, amplitude and background used; amplitude 0 = estimate).
 * Levenberg-Marquardt; errors from the covariance scaled by the residual variance. Returns 0 and fills
 * *out (out->ok = 0 when the fit did not converge; then out holds the mask moments). */
int sm_refine_fit(const float *frame, int width, int height, const uint16_t *labels, uint16_t label,
                  const sm_refine_result *start, sm_shape_kind shape, sm_refine_result *out, sm_error *err);

/* The pixels (centres) inside a fitted model: mask (h x w, 0/1) over the box [x0, x0+w) x [y0, y0+h).
 * Returns the number of pixels set. */
int64_t sm_refine_render(const sm_refine_result *r, int x0, int y0, int w, int h, uint8_t *mask);

/* ---------------------------------------------------------------- sessions */

typedef enum sm_method { SM_METHOD_NET = 0, SM_METHOD_CLASSIC = 1 } sm_method;

typedef struct sm_segment_options {
    sm_method method;
    const sm_model *model;   /* SM_METHOD_NET: the weights (borrowed; must outlive the session) */
    sm_shape_kind refine;    /* SM_SHAPE_NONE switches refinement off; default SM_SHAPE_AUTO */
    int auto_detect;         /* find particles without prompts */
    double min_area;         /* px^2, automatic mode: smallest particle kept (default 20) */
    double max_area;         /* px^2, automatic mode: largest (default: a quarter of the frame) */
    double min_contrast;     /* automatic mode: smallest contrast-to-noise of the smoothed particle (default 5) */
    int max_objects;         /* automatic mode: at most this many objects (default 64) */
    int redetect_every;      /* automatic mode: look for new particles every N frames (default 10; 0 = never) */
    double min_score;        /* objectness below which an object gets no mask (default 0.5) */
    int polarity;            /* -1 dark particles, +1 bright, 0 decide from the image (default) */
    int faint_views;         /* network passes over mirror images of the crop for faint objects (fitted
                              * contrast-to-noise per pixel below 1): 1, 2 or 4 (default 4; 1 is the fastest;
                              * other values are clamped to 1..4) */
} sm_segment_options;

void sm_segment_options_default(sm_segment_options *o);

typedef struct sm_object_result {
    int id;                  /* object id = label */
    int visible;             /* 1 when the object has a mask on this frame */
    double score;            /* objectness 0..1 */
    double iou_pred;         /* the network's predicted IoU (NaN for the classic method) */
    double x, y;             /* px: refined centre when refinement ran, else the mask's centroid */
    double x_err, y_err;     /* 1-sigma, px (NaN when unknown) */
    double area;             /* mask area, px^2 */
    double angle, angle_err; /* rad */
    double major, minor;     /* full axis lengths, px */
    double eccentricity;
    double intensity;        /* mean raw intensity inside the mask */
    int border;              /* the mask touches the image border */
} sm_object_result;

typedef struct sm_frame_result {
    int64_t frame;
    int width, height;
    const uint16_t *labels;          /* (height, width): 0 background, k = object k; valid during the callback */
    int n_objects;
    const sm_object_result *objects; /* (n_objects), every known object, visible or not */
} sm_frame_result;

/* Called once per frame in increasing frame order; return non-zero to stop (propagate then returns
 * SM_ECANCELLED). */
typedef int (*sm_frame_callback)(const sm_frame_result *r, void *user);

/* Where a session reads frames: any function that fills `out` (width*height floats) with frame i. */
typedef int (*sm_frame_reader)(void *user, int64_t i, float *out, sm_error *err);

typedef struct sm_session sm_session;

/* A session on an open video (borrowed: keep it open until sm_session_close). */
int sm_session_open(sm_session **out, sm_video *v, const sm_segment_options *opt, sm_error *err);
/* A session on frames from a reader (for in-memory or simulated frames). */
int sm_session_open_reader(sm_session **out, int width, int height, int64_t frames, sm_frame_reader read,
                           void *user, const sm_segment_options *opt, sm_error *err);
/* Adds a prompt; prompts for one id accumulate (box and points on the same frame are combined).
 * SM_EINVAL when the frame or coordinates fall outside the video. */
int sm_session_add_prompt(sm_session *s, const sm_prompt *p, sm_error *err);
/* Segments every frame and calls cb per frame. Can be called again after more prompts (it starts over). */
int sm_session_propagate(sm_session *s, sm_frame_callback cb, void *user, sm_error *err);
void sm_session_close(sm_session *s);

/* ---------------------------------------------------------------- whole videos to files */

typedef struct sm_segment_stats {
    int64_t frames;
    int objects;
    double seconds;          /* wall time of the whole call */
    double frames_per_s;
    size_t peak_rss_bytes;
} sm_segment_stats;

/* Segments a video with the given prompts and writes out_dir/masks.tif (uint16 labels, streamed frame by
 * frame) and out_dir/tracks.csv (trackpy columns + score, x_err, y_err). When tracks_out is not NULL the
 * table is also returned (caller destroys). quiet = 1 hides the progress bar. */
int sm_segment_video(sm_video *v, const sm_prompt *prompts, int n_prompts, const sm_segment_options *opt,
                     const char *out_dir, int quiet, sm_tracks **tracks_out, sm_segment_stats *stats,
                     sm_error *err);

/* Columns of the tracks.csv that sm_segment_video writes. */
#define SM_SEGMENT_COLUMNS (SM_COLS_TRACK | SM_COL_SCORE | SM_COL_ERR)

#ifdef __cplusplus
}
#endif
#endif
