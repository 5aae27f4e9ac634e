/* samem tracks: a table of per-frame particle measurements (struct of arrays), read and written as CSV
 * with trackpy's column names, so that a Python user loads it with pandas.read_csv and trackpy directly.
 *
 * Usage:
 *     sm_tracks *t = sm_tracks_create();
 *     sm_tracks_row r = sm_tracks_row_empty();   // every optional column NaN
 *     r.frame = 0; r.particle = 1; r.x = 10.5; r.y = 20.25;
 *     sm_tracks_append(t, &r, &err);
 *     sm_tracks_write_csv(t, "tracks.csv", &err);   // atomic
 *     sm_tracks_destroy(t);
 *
 * Coordinates are in px, x to the right and y down, the centre of the top-left pixel at (0, 0).
 * Angle is in radians, counter-clockwise from +x as seen on screen (y up), in (-pi/2, pi/2].
 * Columns absent from a CSV read back as NaN; rows are kept in the order given (sm_tracks_sort sorts
 * by particle, then frame).
 */
#ifndef SAMEM_TRACKS_H
#define SAMEM_TRACKS_H

#include <stdint.h>
#include "samem/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One row, for appending and reading back. */
typedef struct sm_tracks_row {
    int64_t frame;
    int64_t particle;
    double x, y;           /* px */
    double area;           /* px^2 */
    double angle;          /* rad */
    double major, minor;   /* full axis lengths, px */
    double eccentricity;
    double intensity;      /* mean raw intensity inside the mask */
    int border;            /* touches the image border (0/1; -1 unknown) */
    double score;          /* model objectness or predicted IoU, 0..1; NaN when not from a model */
    double x_err, y_err;   /* 1-sigma position uncertainty, px; NaN when unknown */
    int visible;           /* ground truth only: 1 when the particle is in the field (-1 unknown) */
} sm_tracks_row;

typedef struct sm_tracks {
    int64_t n, cap;
    int64_t *frame;        /* (n) */
    int64_t *particle;     /* (n) */
    double *x, *y;         /* (n) px */
    double *area;          /* (n) px^2 */
    double *angle;         /* (n) rad */
    double *major, *minor; /* (n) px */
    double *eccentricity;  /* (n) */
    double *intensity;     /* (n) */
    int *border;           /* (n) */
    double *score;         /* (n) */
    double *x_err, *y_err; /* (n) px */
    int *visible;          /* (n) */
} sm_tracks;

sm_tracks *sm_tracks_create(void);
void sm_tracks_destroy(sm_tracks *t);
sm_tracks_row sm_tracks_row_empty(void);
int sm_tracks_append(sm_tracks *t, const sm_tracks_row *r, sm_error *err);
sm_tracks_row sm_tracks_get(const sm_tracks *t, int64_t i);
void sm_tracks_clear(sm_tracks *t);
/* Sorts rows by (particle, frame), stable. */
int sm_tracks_sort(sm_tracks *t, sm_error *err);

/* Which columns a CSV carries (a bit mask of SM_COL_*); frame, particle, x, y are always written. */
enum {
    SM_COL_AREA = 1 << 0, SM_COL_ANGLE = 1 << 1, SM_COL_MAJOR = 1 << 2, SM_COL_MINOR = 1 << 3,
    SM_COL_ECCENTRICITY = 1 << 4, SM_COL_INTENSITY = 1 << 5, SM_COL_BORDER = 1 << 6, SM_COL_SCORE = 1 << 7,
    SM_COL_ERR = 1 << 8, SM_COL_VISIBLE = 1 << 9,
    /* samem track's columns: frame,particle,x,y,area,angle,major,minor,eccentricity,intensity,border */
    SM_COLS_TRACK = SM_COL_AREA | SM_COL_ANGLE | SM_COL_MAJOR | SM_COL_MINOR | SM_COL_ECCENTRICITY |
                    SM_COL_INTENSITY | SM_COL_BORDER,
};
/* Writes the columns in `columns` in a fixed order, atomically. */
int sm_tracks_write_csv(const sm_tracks *t, const char *path, unsigned columns, sm_error *err);
/* Reads any CSV with a header that has at least frame, particle, x, y (other columns optional, unknown ones
 * ignored; "id" or "track_id" accepted for particle). Bad rows give an error naming the line. */
int sm_tracks_read_csv(sm_tracks **out, const char *path, sm_error *err);

#ifdef __cplusplus
}
#endif
#endif
