/* Tiny synthetic clips for the model's tests, independent of src/sim: blurred disks and rods (edge profile
 * Phi((R - r) / s), the analytic image of a sharp disk under a Gaussian edge blur) on a sloping background
 * with white Gaussian noise; ground truth = pixels whose centre lies inside the shape. */
#ifndef SM_TEST_MODEL_SYNTH_H
#define SM_TEST_MODEL_SYNTH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "samem/common.h"

typedef struct synth_obj {
    double x, y;        /* centre px */
    double r;           /* radius px (rod: half-width) */
    double half_len;    /* rod: half-length of the core segment, 0 for a disk */
    double angle;       /* rod axis, image frame (y down), rad */
    double amp;         /* contrast, raw units (negative = dark) */
    int weak;           /* a weakly scattering sphere or rod: contrast amp * sqrt(1 - (1 + dist / r)^2) inside,
                           fading to 0 at the edge as its projected thickness does (not blurred) */
} synth_obj;

static inline double synth_dist(const synth_obj *o, double x, double y) {
    double dx = x - o->x, dy = y - o->y;
    double c = cos(o->angle), s = sin(o->angle);
    double u = c * dx + s * dy, v = -s * dx + c * dy;
    double uu = fabs(u) > o->half_len ? fabs(u) - o->half_len : 0;
    return hypot(uu, v) - o->r;
}

/* frame (w*h), labels (w*h, may be NULL): objects get labels 1..n */
static inline void synth_render(float *frame, uint16_t *labels, int w, int h, const synth_obj *objs, int n,
                                double edge_sigma, double noise, double bg, sm_rng *rng) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double v = bg + 0.02 * (x - w / 2.0);   /* illumination slope */
            uint16_t lab = 0;
            for (int k = 0; k < n; k++) {
                double d = synth_dist(&objs[k], x, y);
                if (objs[k].weak) {
                    double q = 1 + d / objs[k].r;
                    v += d < 0 ? objs[k].amp * sqrt(fmax(0.0, 1 - q * q)) : 0;
                } else
                    v += objs[k].amp * 0.5 * erfc(d / (edge_sigma * M_SQRT2));
                if (d <= 0 && !lab) lab = (uint16_t)(k + 1);
            }
            frame[(size_t)y * w + x] = (float)(v + noise * sm_rng_normal(rng));
            if (labels) labels[(size_t)y * w + x] = lab;
        }
}

static inline double synth_iou(const uint16_t *a, uint16_t la, const uint16_t *b, uint16_t lb, size_t n) {
    size_t i_n = 0, u_n = 0;
    for (size_t i = 0; i < n; i++) {
        int x = a[i] == la, y = b[i] == lb;
        i_n += x && y;
        u_n += x || y;
    }
    return u_n ? (double)i_n / (double)u_n : 1.0;
}

#endif
