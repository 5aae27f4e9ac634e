/* The network's answer over mirrored views (net.c, flipped_views), with the shipped weights: for the mean over
 * 4 views (the crop, mirrored along x, along y, and both) the answer to a mirrored video must be the mirror
 * image of the answer to the video itself, since the set of views is the same; a view whose logits were not
 * mirrored back, or mirrored the wrong way, breaks that. One pass is not mirror-symmetric (the network is not),
 * so the same check also shows that the test can tell. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/net_internal.h"
#include "samem/model.h"
#include "synth.h"
#include "test.h"

enum { W = 96, H = 96, NF = 12 };

/* Segments the faint rod of frames[] (NF frames, frames[0] = t) with `views` views; mask into out (W*H). */
static int segment(sm__net_runner *r, float *const *frames, double cx, double cy, int views, uint8_t *out) {
    const float *win[SM__NET_PAST_MAX + 1], *ahead[2] = {NULL, NULL};
    for (int k = 0; k <= SM__NET_PAST_MAX; k++) win[k] = frames[k];
    double hx[SM__NET_HIST], hy[SM__NET_HIST];
    for (int h = 0; h < SM__NET_HIST; h++) hx[h] = cx, hy[h] = cy;
    sm__obj_prior pr;
    memset(&pr, 0, sizeof pr);
    pr.x = cx, pr.y = cy, pr.major = 26, pr.minor = 10, pr.area = 200, pr.polarity = -1, pr.views = views;
    /* a box prompt around the rod, as on a prompt's frame */
    sm_prompt box = {.kind = SM_PROMPT_BOX, .object_id = 1, .x0 = cx - 14, .x1 = cx + 14, .y0 = cy - 11, .y1 = cy + 11};
    pr.prompts = &box, pr.n_prompts = 1;
    const sm__obj_prior *pp = &pr;
    sm__seg_out so;
    memset(&so, 0, sizeof so);
    sm__seg_out *po = &so;
    sm_error err = {0};
    int rc = sm__net_segment_batch(r, win, SM__NET_PAST_MAX + 1, ahead, 0, W, H, 1, &pp, hx, hy, &po, &err);
    memset(out, 0, W * H);
    for (int y = 0; rc == 0 && y < so.mask.h; y++)
        for (int x = 0; x < so.mask.w; x++) out[(so.mask.y0 + y) * W + so.mask.x0 + x] = so.mask.m[(size_t)y * so.mask.w + x];
    free(so.mask.m);
    return rc;
}

/* pixels where a and the x-mirror of b differ */
static int mirror_mismatch(const uint8_t *a, const uint8_t *b) {
    int n = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) n += a[y * W + x] != b[y * W + (W - 1 - x)];
    return n;
}

int main(void) {
    sm_model *m = NULL;
    sm_error err = {0};
    if (sm_model_load(&m, "models/samem.safetensors", &err) < 0) {
        SM_CHECKF("the shipped weights load", 0, "%s", err.msg);
        return sm_test_report();
    }
    sm__net_runner *r = NULL;
    SM_CHECKF("runner", sm__net_runner_create(&r, m, &err) == 0, "%s", err.msg);
    /* a faint rod at contrast-to-noise 0.6, turned so that it is not mirror-symmetric itself */
    float *frames[NF], *mirrored[NF];
    sm_rng rng;
    sm_rng_seed(&rng, 7);
    double cx = 45.3, cy = 50.2;
    for (int k = 0; k < NF; k++) {
        frames[k] = malloc(sizeof(float) * W * H), mirrored[k] = malloc(sizeof(float) * W * H);
        synth_obj o = {.x = cx, .y = cy, .r = 5, .half_len = 8, .angle = 0.5, .amp = -0.6};
        synth_render(frames[k], NULL, W, H, &o, 1, 1.2, 1.0, 50.0, &rng);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) mirrored[k][y * W + (W - 1 - x)] = frames[k][y * W + x];
    }
    uint8_t *a = malloc(W * H), *b = malloc(W * H);
    int area = 0;
    SM_CHECK("4 views: segments", segment(r, frames, cx, cy, 4, a) == 0);
    for (int i = 0; i < W * H; i++) area += a[i];
    SM_CHECKF("4 views: a mask of the rod's size", area > 100 && area < 400, "%d px", area);
    SM_CHECK("4 views: segments the mirrored video", segment(r, mirrored, W - 1 - cx, cy, 4, b) == 0);
    int d4 = mirror_mismatch(a, b);
    SM_CHECKF("4 views: the mirrored video's mask is the mirror image (at most 2 px differ)", d4 <= 2, "%d px differ", d4);
    segment(r, frames, cx, cy, 1, a);
    segment(r, mirrored, W - 1 - cx, cy, 1, b);
    int d1 = mirror_mismatch(a, b);
    printf("info: mirror mismatch %d px with 4 views, %d px with 1\n", d4, d1);
    SM_CHECKF("1 view: not mirror-symmetric (the check can tell)", d1 > d4, "%d px differ against %d", d1, d4);
    for (int k = 0; k < NF; k++) free(frames[k]), free(mirrored[k]);
    free(a), free(b);
    sm__net_runner_destroy(r);
    sm_model_destroy(m);
    return sm_test_report();
}
