/* Detector line defects (src/model/imgproc.c): on a noisy frame with an illumination gradient, a large dark
 * disk, one dark row and one bright column, the search lists exactly that row and column; the fix brings
 * them to their neighbours' level and leaves every other pixel as it was; a clean frame lists nothing.
 * The noise's correlation area (sm__noise_area): about 1 for white noise, and for noise through a Gaussian of
 * 0.8 and 1.2 px what plain variances of the same frame give (16 x the variance of 4 x 4 block means over half
 * the variance of differences 2 px apart), with a gradient and a particle in the frame. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "test.h"

#define W 300
#define H 200

static void make_frame(float *f, uint64_t seed, int defects) {
    sm_rng r;
    sm_rng_seed(&r, seed);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double v = 100 + 0.05 * x + 0.08 * y + sm_rng_normal(&r);   /* noise sigma 1 */
            if (hypot(x - 120.0, y - 90.0) < 45) v -= 3;                  /* a particle 90 px across */
            if (defects && y == 77) v -= 2.5;                             /* dark row */
            if (defects && x == 201) v += 1.5;                            /* bright column */
            f[(size_t)y * W + x] = (float)v;
        }
}

/* The reference for sm__noise_area from plain (non-robust) variances of a noise-only frame. */
static double noise_area_plain(const float *n) {
    double d2 = 0, b1 = 0, b2 = 0;
    size_t nd = 0, nb = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x + 2 < W; x++, nd++) d2 += pow(n[(size_t)y * W + x + 2] - n[(size_t)y * W + x], 2);
    for (int by = 0; by < H / 4; by++)
        for (int bx = 0; bx < W / 4; bx++, nb++) {
            double m = 0;
            for (int y = 4 * by; y < 4 * by + 4; y++)
                for (int x = 4 * bx; x < 4 * bx + 4; x++) m += n[(size_t)y * W + x] / 16;
            b1 += m, b2 += m * m;
        }
    double vb = b2 / nb - (b1 / nb) * (b1 / nb);
    return 16 * vb / (d2 / nd / 2);
}

static double line_mean(const float *f, int i, int is_row) {
    double s = 0;
    int n = is_row ? W : H;
    for (int k = 0; k < n; k++) s += is_row ? f[(size_t)i * W + k] : f[(size_t)k * W + i];
    return s / n;
}

int main(void) {
    float *f = malloc(sizeof(float) * W * H), *orig = malloc(sizeof(float) * W * H);
    sm__line_defects d;
    int clean_hits = 0;
    for (int k = 0; k < 5; k++) {
        make_frame(f, 40 + (uint64_t)k, 0);
        SM_CHECK("search on a clean frame runs", sm__line_defects_find(f, W, H, &d) == 0);
        clean_hits += d.n_rows + d.n_cols;
    }
    SM_CHECKF("clean frames (gradient, a large particle): no line listed in 5", clean_hits == 0, "%d", clean_hits);

    make_frame(f, 7, 1);
    memcpy(orig, f, sizeof(float) * W * H);
    SM_CHECK("search runs", sm__line_defects_find(f, W, H, &d) == 0);
    SM_CHECKF("exactly the dark row and the bright column are listed",
              d.n_rows == 1 && d.rows[0] == 77 && d.n_cols == 1 && d.cols[0] == 201, "rows %d (first %d), cols %d (first %d)",
              d.n_rows, d.n_rows ? d.rows[0] : -1, d.n_cols, d.n_cols ? d.cols[0] : -1);
    SM_CHECK("fix runs", sm__line_defects_fix(f, W, H, &d) == 0);
    /* the row's mean against its neighbours' (the gradient is linear, so their mean is the row's level) */
    double row_off = line_mean(f, 77, 1) - 0.5 * (line_mean(f, 76, 1) + line_mean(f, 78, 1));
    double col_off = line_mean(f, 201, 0) - 0.5 * (line_mean(f, 200, 0) + line_mean(f, 202, 0));
    SM_CHECKF("the fixed row and column sit at their neighbours' level (within 0.25 noise sigma)",
              fabs(row_off) < 0.25 && fabs(col_off) < 0.25, "row %.3f, column %.3f", row_off, col_off);
    int changed = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (y != 77 && x != 201 && f[(size_t)y * W + x] != orig[(size_t)y * W + x]) changed++;
    SM_CHECKF("no other pixel changed", changed == 0, "%d", changed);
    /* a later frame of the same sensor: the listed lines are fixed with this frame's own offsets */
    make_frame(f, 8, 1);
    for (int x = 0; x < W; x++) f[(size_t)77 * W + x] -= 1.0f; /* the row's offset drifted */
    sm__line_defects_fix(f, W, H, &d);
    row_off = line_mean(f, 77, 1) - 0.5 * (line_mean(f, 76, 1) + line_mean(f, 78, 1));
    SM_CHECKF("a later frame's row offset is measured on that frame", fabs(row_off) < 0.25, "%.3f", row_off);

    float *noise = malloc(sizeof(float) * W * H), *tmp = malloc(sizeof(float) * W * H);
    const double sigmas[3] = {0, 0.8, 1.2};
    double area[3];
    for (int k = 0; k < 3; k++) {
        sm_rng r;
        sm_rng_seed(&r, 90 + (uint64_t)k);
        for (int i = 0; i < W * H; i++) noise[i] = (float)sm_rng_normal(&r);
        if (sigmas[k] > 0) sm__gauss_blur(noise, noise, W, H, sigmas[k], tmp);
        double ref = noise_area_plain(noise);
        /* the frame: the noise (its std scaled to 1) on a gradient with a dark particle */
        double s2 = 0;
        for (int i = 0; i < W * H; i++) s2 += (double)noise[i] * noise[i];
        double sd = sqrt(s2 / (W * H));
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                f[(size_t)y * W + x] = (float)(100 + 0.05 * x + 0.08 * y - 3.0 * (hypot(x - 120.0, y - 90.0) < 45) +
                                               noise[(size_t)y * W + x] / sd);
        area[k] = sm__noise_area(f, W, H);
        SM_CHECKF("noise area within 15% of the plain variances' (Gaussian correlation of 0, 0.8, 1.2 px)",
                  fabs(area[k] / fmax(ref, 1.0) - 1) < 0.15, "sigma %.1f: %.2f against %.2f", sigmas[k], area[k], ref);
    }
    SM_CHECKF("noise area: about 1 for white noise, growing with the correlation",
              area[0] < 1.3 && area[1] > 3 && area[2] > area[1], "%.2f %.2f %.2f", area[0], area[1], area[2]);
    free(noise), free(tmp);
    free(f);
    free(orig);
    return sm_test_report();
}
