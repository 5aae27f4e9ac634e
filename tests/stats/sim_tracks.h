/* Track simulators for the stats and plot tests: Brownian motion with continuous-exposure motion blur
 * (each frame position is the mean over SIM_SUB = 8 sub-steps, so R = (1 - 1/64)/6 ~= 1/6), Gaussian localisation noise, drift,
 * gaps, rotational diffusion of the pi-periodic angle, and fractional Brownian motion by Cholesky factors of
 * the fractional Gaussian noise covariance (exact for the given length). All seeded with sm_rng. */
#ifndef SM_TEST_SIM_TRACKS_H
#define SM_TEST_SIM_TRACKS_H

#include <math.h>
#include <stdlib.h>

#include "samem/common.h"
#include "samem/tracks.h"

#define SIM_SUB 8

typedef struct sim_params {
    int tracks, steps;        /* points per track = steps + 1 */
    double D;                 /* nm^2/s */
    double dt;                /* s */
    double sigma;             /* static localisation error per axis, nm */
    double vx, vy;            /* drift, nm/s */
    double px_nm;             /* px size used to write x, y in px */
    double D_r, sigma_theta;  /* rad^2/s, rad; D_r = 0: no angle column */
    double gap_prob;          /* probability that a frame is missing (not the first) */
    uint64_t seed;
} sim_params;

static inline double wrap_half_pi(double a) {
    a = fmod(a + M_PI / 2, M_PI);
    if (a <= 0) a += M_PI;
    return a - M_PI / 2; /* (-pi/2, pi/2] */
}

/* Brownian tracks with blur, noise, drift, gaps and optional rotation. */
static inline sm_tracks *sim_brownian(const sim_params *p) {
    sm_tracks *t = sm_tracks_create();
    sm_rng rng;
    for (int k = 0; k < p->tracks; k++) {
        sm_rng_seed_stream(&rng, p->seed, (uint64_t)k);
        double x = 1000 * sm_rng_uniform(&rng), y = 1000 * sm_rng_uniform(&rng), th = sm_rng_uniform(&rng) * M_PI;
        double sub = sqrt(2 * p->D * p->dt / SIM_SUB), subr = sqrt(2 * p->D_r * p->dt / SIM_SUB);
        for (int f = 0; f <= p->steps; f++) {
            double mx = 0, my = 0, mth = 0;
            for (int s = 0; s < SIM_SUB; s++) {
                x += sub * sm_rng_normal(&rng) + p->vx * p->dt / SIM_SUB;
                y += sub * sm_rng_normal(&rng) + p->vy * p->dt / SIM_SUB;
                th += subr * sm_rng_normal(&rng);
                mx += x / SIM_SUB;
                my += y / SIM_SUB;
                mth += th / SIM_SUB;
            }
            if (f > 0 && sm_rng_uniform(&rng) < p->gap_prob) continue;
            sm_tracks_row r = sm_tracks_row_empty();
            r.frame = f + 5;
            r.particle = 100 + k;
            r.x = (mx + p->sigma * sm_rng_normal(&rng)) / p->px_nm;
            r.y = (my + p->sigma * sm_rng_normal(&rng)) / p->px_nm;
            if (p->D_r > 0) r.angle = wrap_half_pi(mth + p->sigma_theta * sm_rng_normal(&rng));
            sm_tracks_append(t, &r, NULL);
        }
    }
    return t;
}

/* fBm tracks: increments are fractional Gaussian noise with Hurst H = alpha/2 and per-axis step variance
 * s2 (nm^2), so that the per-axis MSD is s2 n^alpha and the 2-D MSD 2 s2 n^alpha. No noise, no blur. */
static inline sm_tracks *sim_fbm(int tracks, int steps, double alpha, double s2, uint64_t seed) {
    int n = steps;
    double *C = calloc((size_t)n * n, sizeof *C);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double k = fabs((double)(i - j));
            C[i * n + j] = 0.5 * s2 * (pow(k + 1, alpha) + pow(fabs(k - 1), alpha) - 2 * pow(k, alpha));
        }
    for (int j = 0; j < n; j++) { /* Cholesky, lower */
        double s = C[j * n + j];
        for (int k = 0; k < j; k++) s -= C[j * n + k] * C[j * n + k];
        double l = sqrt(s);
        C[j * n + j] = l;
        for (int i = j + 1; i < n; i++) {
            double v = C[i * n + j];
            for (int k = 0; k < j; k++) v -= C[i * n + k] * C[j * n + k];
            C[i * n + j] = v / l;
        }
    }
    sm_tracks *t = sm_tracks_create();
    double *z = malloc(sizeof(double) * 2 * n);
    sm_rng rng;
    for (int k = 0; k < tracks; k++) {
        sm_rng_seed_stream(&rng, seed, (uint64_t)k);
        for (int i = 0; i < 2 * n; i++) z[i] = sm_rng_normal(&rng);
        double x = 0, y = 0;
        for (int f = 0; f <= n; f++) {
            if (f > 0) {
                double dx = 0, dy = 0;
                for (int j = 0; j < f; j++) {
                    dx += C[(f - 1) * n + j] * z[j];
                    dy += C[(f - 1) * n + j] * z[n + j];
                }
                x += dx;
                y += dy;
            }
            sm_tracks_row r = sm_tracks_row_empty();
            r.frame = f;
            r.particle = k;
            r.x = x;
            r.y = y;
            sm_tracks_append(t, &r, NULL);
        }
    }
    free(z);
    free(C);
    return t;
}

#endif
