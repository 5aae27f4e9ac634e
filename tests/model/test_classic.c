/* The classic segmenter (src/model/classic.c) far from the frame's origin under a steep illumination
 * gradient: a dark disk's measured contrast is its true amplitude and its score is clear; on noise alone the
 * score stays below the session's threshold (0.5). Why: the background plane is fitted in the crop's own
 * coordinates, and the segmenter once evaluated it at frame coordinates, which put the crop corner's
 * gradient (here over 40 noise sigma) into every blob's contrast and score: lost objects were then found on
 * noise or missed, depending on which way the light fell. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/model_internal.h"
#include "test.h"

#define W 512
#define H 512

/* Background 100 + 0.2 x + 0.3 y, white noise of std 4, and a dark disk of amplitude amp at (cx, cy). */
static void make_frame(float *f, double cx, double cy, double r, double amp, uint64_t seed) {
    sm_rng rng;
    sm_rng_seed(&rng, seed);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double v = 100 + 0.2 * x + 0.3 * y + 4 * sm_rng_normal(&rng);
            if (hypot(x - cx, y - cy) <= r) v += amp;
            f[(size_t)y * W + x] = (float)v;
        }
}

static sm__obj_prior prior_at(double x, double y, double r) {
    sm__obj_prior p = {0};
    p.x = x, p.y = y, p.search = 10, p.area = M_PI * r * r, p.major = p.minor = 2 * r, p.polarity = -1;
    return p;
}

int main(void) {
    float *f = malloc(sizeof(float) * W * H);
    sm__seg_out out = {0};
    sm_error err = {0};
    double worst_rel = 0, min_score = 1, max_noise_score = 0;
    for (int k = 0; k < 4; k++) {
        make_frame(f, 420, 380, 8, -6, 70 + (uint64_t)k);
        sm__obj_prior p = prior_at(421, 379, 8);
        SM_CHECK("segment a disk runs", sm__classic_segment(f, W, H, &p, &out, &err) == 0);
        worst_rel = fmax(worst_rel, fabs(out.contrast / -6.0 - 1));
        min_score = fmin(min_score, out.mask.w > 0 ? out.score : 0);
        make_frame(f, 420, 380, 8, 0, 90 + (uint64_t)k);
        SM_CHECK("segment noise runs", sm__classic_segment(f, W, H, &p, &out, &err) == 0);
        max_noise_score = fmax(max_noise_score, out.mask.w > 0 ? out.score : 0);
    }
    SM_CHECKF("a disk of amplitude -6 (1.5 noise sigma) measures within 35% of it", worst_rel < 0.35, "%.3f", worst_rel);
    SM_CHECKF("and scores as clear (>= 0.99)", min_score >= 0.99, "%.3f", min_score);
    SM_CHECKF("noise alone scores below 0.5", max_noise_score < 0.5, "%.3f", max_noise_score);
    printf("info: contrast error %.3f, disk score %.3f, noise score %.3f\n", worst_rel, min_score, max_noise_score);
    free(out.mask.m);
    free(f);
    return sm_test_report();
}
