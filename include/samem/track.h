/* samem track: per-object measurements from label masks, and linking of detections into trajectories.
 *
 * Usage (from a label stack on disk, as `samem track` does):
 *     sm_link_params p;
 *     sm_link_params_default(&p);            // max_disp 10 px, gap 2 frames, no Kalman, new identities
 *     p.max_disp = 15;
 *     sm_tracks *t = NULL;
 *     sm_track_events *ev = sm_track_events_create();
 *     if (sm_track_labels_file(&t, "masks.tif", "video.tif", &p, ev, &err) < 0) ...;   // video may be NULL
 *     sm_tracks_write_csv(t, "tracks.csv", SM_COLS_TRACK, &err);
 *     sm_track_events_write_csv(ev, "events.csv", &err);
 *     sm_tracks_destroy(t); sm_track_events_destroy(ev);
 *
 * Or step by step: sm_track_measure() turns one uint16 label plane (0 background, k object k) into one row
 * per object; sm_track_link() gives the rows of a detection table particle ids.
 *
 * Measurements (pixel centres at integer coordinates, x right, y down, units px):
 *   area      pixel count (px^2)
 *   x, y      centroid; with an intensity plane, the contrast-weighted centroid: weights |I - b| over the
 *             object's pixels on the side of b that the object lies (b = mean intensity of the background
 *             pixels 4-adjacent to the object; weights are 0 on the other side), so that dark and bright
 *             particles are both weighted by their contrast. Falls back to the plain centroid when the
 *             weights sum to 0.
 *   angle     orientation of the major axis from the second central moments, radians counter-clockwise
 *             from +x as seen on screen (y up, so the y moment is negated), in (-pi/2, pi/2]
 *   major, minor  full axis lengths 4*sqrt(eigenvalue) of the moment covariance (px); a filled ellipse of
 *             semi-axes a, b gives ~2a, ~2b
 *   eccentricity  sqrt(1 - l_minor/l_major)
 *   intensity mean raw intensity inside the mask (NaN without an intensity plane)
 *   bbox      inclusive pixel bounds; border: the object touches the first or last row or column
 *
 * Linking (sm_track_link): at each frame, the tracks seen in the last gap+1 frames are assigned to the
 * frame's detections by an exact minimum-cost linear assignment (sparse shortest augmenting paths in the
 * manner of Jonker and Volgenant 1987, on the (n+m)x(n+m) matrix of Jaqaman et al. 2008, Nat. Methods 5:695,
 * whose diagonal blocks let a track end and a detection start a new track). The cost of linking a track last
 * seen g frames ago (g = 0 for the previous frame) to a detection at distance d from its predicted position:
 *     (d / R_g)^2 + w_area * ln(a1/a2)^2 + w_shape * (e1 - e2)^2 + gap_penalty * g,   R_g = max_disp*sqrt(g+1)
 * and only pairs with d <= R_g are candidates. Not linking costs birth_death on each side, so a pair is
 * linked when its cost is under 2*birth_death. The prediction is the last position, or with kalman a
 * constant-velocity Kalman filter per axis. With keep_ids the label values are identities: they are kept,
 * and linking only stitches a label that appears for the first time onto a track that vanished in the last
 * gap+1 frames (the later label then carries the earlier identity).
 * Merge and split events (touching particles) are recorded in an sm_track_events table: a merge when a
 * track ends at frame t-1 near a detection at t that continues another track and whose area is near the sum
 * of both; a split when a new track starts at t near the position at t-1 of a track that continues, whose
 * area at t-1 is near the sum of both.
 *
 * Left out: the segment-level gap closing of Jaqaman (our gap closing is online, trackpy's "memory" with an
 * exact assignment); motion models other than constant velocity; identities that jump between particles.
 */
#ifndef SAMEM_TRACK_H
#define SAMEM_TRACK_H

#include <stdint.h>
#include "samem/common.h"
#include "samem/tracks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- measurements */

typedef struct sm_track_object {
    int label;                 /* the label value (1..65535) */
    double area;               /* px^2 */
    double x, y;               /* centroid (contrast-weighted when an intensity plane is given), px */
    double x_geom, y_geom;     /* plain centroid, px */
    double angle;              /* rad, (-pi/2, pi/2] */
    double major, minor;       /* px */
    double eccentricity;
    double intensity;          /* mean raw intensity inside; NaN without an intensity plane */
    int x0, y0, x1, y1;        /* bounding box, inclusive, px */
    int border;                /* 1 when the object touches the image border */
} sm_track_object;

/* Measures every label present in labels (width*height, row-major; 0 is background). image may be NULL, or a
 * width*height intensity plane. *out receives a malloc'ed array of *n_out objects in increasing label order
 * (NULL when there are none); the caller frees it. */
int sm_track_measure(const uint16_t *labels, const float *image, int width, int height, sm_track_object **out,
                     int *n_out, sm_error *err);

/* ---------------------------------------------------------------- linear assignment */

/* Exact minimum-cost assignment between n rows and m columns with sparse candidate pairs, where a row may
 * stay unassigned at cost row_unmatched[i] and a column at cost col_unmatched[j] (arrays may be NULL for a
 * constant `unmatched`). Pairs are given in CSR form: row i's candidates are col[row_ptr[i] .. row_ptr[i+1]-1]
 * with costs cost[...] (any sign, finite). row_to_col receives the assigned column of each row or -1.
 * Exact: the result minimises sum(assigned costs) + sum(unassigned costs). Returns 0 or SM_ENOMEM/SM_EINVAL.
 * Repeated (row, col) pairs are allowed (the cheaper one is used). */
int sm_lap_sparse(int n, int m, const int64_t *row_ptr, const int *col, const double *cost,
                  const double *row_unmatched, const double *col_unmatched, double unmatched, int *row_to_col,
                  sm_error *err);

/* ---------------------------------------------------------------- linking */

typedef struct sm_link_params {
    double max_disp;      /* largest step between consecutive frames, px (default 10) */
    int gap;              /* frames a particle may be missing and still be rejoined (default 2) */
    int kalman;           /* 1: predict positions with a constant-velocity Kalman filter (default 0) */
    int keep_ids;         /* 1: detections' particle column holds identities to keep (default 0) */
    double w_area;        /* weight of ln(area ratio)^2 in the cost (default 0.5) */
    double w_shape;       /* weight of the eccentricity difference squared (default 0.5) */
    double gap_penalty;   /* cost per missing frame (default 0.1) */
    double birth_death;   /* cost of leaving a track or a detection unlinked (default 0.75) */
    double kalman_q;      /* process noise: acceleration std, px/frame^2 (default 1) */
    double kalman_r;      /* measurement noise std, px (default 1) */
    double merge_area_tol;/* relative tolerance for area sums in merge/split detection (default 0.35) */
    int weighted_centroid;/* sm_track_labels_file only: x, y = contrast-weighted centroid when a video is given
                           * (default 0: the mask's centroid, which single noisy frames do not disturb) */
} sm_link_params;

void sm_link_params_default(sm_link_params *p);

enum { SM_EVENT_MERGE = 1, SM_EVENT_SPLIT = 2 };

/* Merge and split events: struct of arrays. For a merge, `particle` ended at frame-1 and merged into
 * `other`, which continues at `frame`; for a split, `particle` starts at `frame` out of `other`. x, y: the
 * position of the combined object (px). */
typedef struct sm_track_events {
    int64_t n, cap;
    int64_t *frame;    /* (n) */
    int *kind;         /* (n) SM_EVENT_* */
    int64_t *particle; /* (n) */
    int64_t *other;    /* (n) */
    double *x, *y;     /* (n) px */
} sm_track_events;

sm_track_events *sm_track_events_create(void);
void sm_track_events_destroy(sm_track_events *e);
int sm_track_events_append(sm_track_events *e, int64_t frame, int kind, int64_t particle, int64_t other, double x,
                           double y, sm_error *err);
/* CSV with header frame,event,particle,other,x,y (event is "merge" or "split"), atomic. */
int sm_track_events_write_csv(const sm_track_events *e, const char *path, sm_error *err);

/* Gives every row of det (one detection per row; frame, x, y required; area and eccentricity used when not
 * NaN) a particle id, in place. Rows may come in any order. Without keep_ids, ids are 0, 1, 2, ... in order of
 * first appearance; with keep_ids the particle column's values are kept unless stitched. events may be NULL.
 * Returns 0, or SM_EINVAL (bad parameters, non-finite positions, negative frames) / SM_ENOMEM. */
int sm_track_link(sm_tracks *det, const sm_link_params *p, sm_track_events *events, sm_error *err);

/* ---------------------------------------------------------------- from files */

/* Reads a label stack (uint16 TIFF stack or PNG folder, anything sm_video_open reads whose values are
 * integers 0..65535), measures each object in each frame (intensities from video_path when not NULL; it must
 * have the same size and at least as many frames), links, and returns the track table (rows sorted by
 * particle then frame; columns of SM_COLS_TRACK). x, y are the mask centroid, or the contrast-weighted one with
 * p->weighted_centroid and a video. */
int sm_track_labels_file(sm_tracks **out, const char *labels_path, const char *video_path,
                         const sm_link_params *p, sm_track_events *events, sm_error *err);

#ifdef __cplusplus
}
#endif
#endif
