/* Detector line defects (src/model/imgproc.c): on a noisy frame with an illumination gradient, a large dark
 * disk, one dark row and one bright column, the search lists exactly that row and column; the fix brings
 * them to their neighbours' level and leaves every other pixel as it was; a clean frame lists nothing. */
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
    free(f);
    free(orig);
    return sm_test_report();
}
