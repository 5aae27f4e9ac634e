/* The automatic detector (src/model/detect.c) on synthetic frames (tests/model/synth.h): touching particles
 * of different contrast come out as separate detections, while single particles, elongated or flat, are not
 * split by the noise on them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/model_internal.h"
#include "synth.h"
#include "test.h"

#define W 384
#define H 384

/* Detections on a 3-frame mean of objs rendered with noise (seeded); returns their number, *out malloc'ed. */
static int detect_on(const synth_obj *objs, int n, double noise, uint64_t seed, sm__detection **out) {
    float *fr[3];
    sm_rng rng;
    sm_rng_seed(&rng, seed);
    for (int k = 0; k < 3; k++) {
        fr[k] = malloc(sizeof(float) * W * H);
        synth_render(fr[k], NULL, W, H, objs, n, 1.0, noise, 100.0, &rng);
    }
    sm_segment_options opt;
    sm_segment_options_default(&opt);
    sm_error err = {0};
    int nd = -1, pol = 0;
    if (sm__detect((const float *const *)fr, 3, W, H, &opt, 0, out, &nd, &pol, &err) < 0) nd = -1;
    for (int k = 0; k < 3; k++) free(fr[k]);
    return nd;
}

/* Whether a detection lies within tol px of (x, y); its touching flag in *touching. */
static int found_near(const sm__detection *d, int nd, double x, double y, double tol, int *touching) {
    for (int i = 0; i < nd; i++)
        if (hypot(d[i].x - x, d[i].y - y) < tol) {
            if (touching) *touching = d[i].touching;
            return 1;
        }
    return 0;
}

/* Lists the detections of a failed case (ctest shows them). */
static void print_detections(const char *what, int k, const sm__detection *d, int nd) {
    printf("info: %s %d: %d detections\n", what, k, nd);
    for (int i = 0; i < nd; i++)
        printf("info:   %.1f %.1f area %.0f cnr %.1f touching %d\n", d[i].x, d[i].y, d[i].area, d[i].cnr, d[i].touching);
}

int main(void) {
    sm__detection *d = NULL;
    /* a moderate disk 2 px from a much darker, larger one: two detections, both marked as split
     * from the shared blob */
    int ok = 0, flagged = 0, runs = 5;
    for (int k = 0; k < runs; k++) {
        synth_obj o[2] = {{.x = 180, .y = 196, .r = 18, .amp = -8}, {.x = 180 + 18 + 10 + 2, .y = 190, .r = 10, .amp = -3}};
        int nd = detect_on(o, 2, 1.0, 40 + (uint64_t)k, &d);
        int t1 = 0, t2 = 0;
        int both = nd == 2 && found_near(d, nd, o[0].x, o[0].y, 3, &t1) && found_near(d, nd, o[1].x, o[1].y, 4, &t2);
        ok += both;
        flagged += both && t1 && t2;
        if (!both) print_detections("touching pair", k, d, nd);
        free(d);
        d = NULL;
    }
    SM_CHECKF("a faint disk touching a dark one: two detections at their centres", ok == runs, "%d/%d", ok, runs);
    SM_CHECKF("both detections marked as split from a shared blob", flagged == runs, "%d/%d", flagged, runs);
    /* single particles are not split by the noise on them: a long rod, a large flat disk, at two noise levels */
    int single = 0, cases = 0;
    for (int k = 0; k < 4; k++) {
        synth_obj rod = {.x = 96, .y = 96, .r = 6, .half_len = 30, .angle = 0.4, .amp = -2.0};
        synth_obj disk = {.x = 90, .y = 100, .r = 28, .amp = -1.5};
        double noise = k % 2 ? 1.0 : 2.0;
        int nd = detect_on(k < 2 ? &rod : &disk, 1, noise, 60 + (uint64_t)k, &d);
        int good = nd == 1 && !d[0].touching;
        single += good;
        cases++;
        if (!good) print_detections("single particle case", k, d, nd);
        free(d);
        d = NULL;
    }
    SM_CHECKF("a rod and a flat disk: one detection each, not split", single == cases, "%d/%d", single, cases);
    /* two disks well apart: two detections, not marked as touching */
    synth_obj apart[2] = {{.x = 50, .y = 60, .r = 10, .amp = -3}, {.x = 140, .y = 130, .r = 12, .amp = -3}};
    int t1 = 1, t2 = 1;
    int nd = detect_on(apart, 2, 1.0, 77, &d);
    SM_CHECKF("two disks apart: two detections, neither marked as touching",
              nd == 2 && found_near(d, nd, 50, 60, 3, &t1) && found_near(d, nd, 140, 130, 3, &t2) && !t1 && !t2,
              "%d detections", nd);
    free(d);
    /* three particles wider than the illumination's box mean (97 px here), at contrast-to-noise 1 per pixel:
     * each one detection near its centre (a plain box mean took up their insides, and none was found) */
    synth_obj large[3] = {{.x = 90, .y = 95, .r = 55, .amp = -1},
                          {.x = 280, .y = 110, .r = 45, .half_len = 20, .angle = 0.6, .amp = -1},
                          {.x = 200, .y = 290, .r = 60, .amp = -1}};
    int large_ok = 0, large_runs = 3;
    for (int k = 0; k < large_runs; k++) {
        nd = detect_on(large, 3, 1.0, 90 + (uint64_t)k, &d);
        int all = nd >= 3;
        for (int i = 0; i < 3 && all; i++) all = found_near(d, nd, large[i].x, large[i].y, 12, NULL);
        large_ok += all;
        if (!all) print_detections("large particles", k, d, nd);
        free(d);
        d = NULL;
    }
    SM_CHECKF("three particles of 90-120 px: each found near its centre", large_ok == large_runs, "%d/%d", large_ok,
              large_runs);
    return sm_test_report();
}
