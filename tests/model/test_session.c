/* Sessions on synthetic clips (tests/model/synth.h) with the classic method: accuracy against the
 * analytic ground truth, backward propagation from a prompt on a later frame, an object leaving and
 * re-entering the field, a hop, a correcting prompt, automatic mode, frame order and cancelling; with the
 * shipped network: overlapping disks, a large rod, a disk and a weakly scattering sphere cut by the border,
 * one that hops out of the field in correlated noise, one that leaves for good and
 * one that fades for 10 frames and comes back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/model_internal.h"
#include "samem/model.h"
#include "synth.h"
#include "test.h"

#define W 160
#define H 160
#define F 30

typedef struct clip {
    int n;                     /* objects */
    synth_obj obj[F][4];       /* per frame */
    double noise, edge;
    double noise_corr; /* > 0: the noise is white noise smoothed by a Gaussian of this sigma (px), rescaled */
    uint64_t seed;
} clip;

typedef struct run {
    const clip *c;
    double iou_sum[4], err[4][F];
    int iou_n[4], visible[4][F];
    double iou[4][F], iou_x[4][F], score[4][F]; /* iou_x: against the other truth object (ids 1<->2) */
    int64_t last_frame;
    int order_ok, frames_seen, stop_at;
    int max_id;
} run;

static int reader(void *user, int64_t i, float *out, sm_error *err) {
    const clip *c = user;
    sm_rng rng;
    sm_rng_seed_stream(&rng, c->seed, (uint64_t)i);
    synth_render(out, NULL, W, H, c->obj[i], c->n, c->edge, c->noise_corr > 0 ? 0 : c->noise, 50.0, &rng);
    if (c->noise_corr > 0) {
        /* white noise through the library's Gaussian blur, rescaled to c->noise by its own std */
        float *n = malloc(sizeof(float) * W * H), *tmp = malloc(sizeof(float) * W * H);
        if (!n || !tmp) {
            free(n), free(tmp);
            return sm_error_set(err, SM_ENOMEM, "test reader: out of memory");
        }
        for (int j = 0; j < W * H; j++) n[j] = (float)sm_rng_normal(&rng);
        sm__gauss_blur(n, n, W, H, c->noise_corr, tmp);
        double sum = 0, sum2 = 0;
        for (int j = 0; j < W * H; j++) sum += n[j], sum2 += (double)n[j] * n[j];
        double sd = sqrt(sum2 / (W * H) - (sum / (W * H)) * (sum / (W * H)));
        for (int j = 0; j < W * H; j++) out[j] += (float)(c->noise * n[j] / sd);
        free(n), free(tmp);
    }
    return 0;
}

static int on_frame(const sm_frame_result *r, void *user) {
    run *u = user;
    if (r->frame != u->last_frame + 1) u->order_ok = 0;
    u->last_frame = r->frame;
    u->frames_seen++;
    float *dummy = malloc(sizeof(float) * W * H);
    uint16_t *truth = malloc(sizeof(uint16_t) * W * H);
    sm_rng rng;
    sm_rng_seed(&rng, 1);
    synth_render(dummy, truth, W, H, u->c->obj[r->frame], u->c->n, 1, 0, 0, &rng);
    for (int k = 0; k < r->n_objects; k++) {
        const sm_object_result *o = &r->objects[k];
        if (o->id > u->max_id) u->max_id = o->id;
        int id = o->id;
        if (id < 1 || id > 4) continue;
        u->visible[id - 1][r->frame] = o->visible;
        u->score[id - 1][r->frame] = o->score;
        if (id > u->c->n) continue;
        const synth_obj *g = &u->c->obj[r->frame][id - 1];
        u->err[id - 1][r->frame] = o->visible ? hypot(o->x - g->x, o->y - g->y) : NAN;
        u->iou[id - 1][r->frame] = synth_iou(r->labels, (uint16_t)id, truth, (uint16_t)id, (size_t)W * H);
        if (u->c->n == 2) u->iou_x[id - 1][r->frame] = synth_iou(r->labels, (uint16_t)id, truth, (uint16_t)(3 - id), (size_t)W * H);
    }
    free(dummy);
    free(truth);
    return u->stop_at >= 0 && r->frame == u->stop_at;
}

static sm_model *net_model; /* the shipped weights, for the runs with the network (NULL: classic) */

static int run_session(const clip *c, const sm_prompt *p, int np, int auto_mode, run *u, int stop_at) {
    memset(u, 0, sizeof *u);
    u->c = c;
    u->last_frame = -1;
    u->order_ok = 1;
    u->stop_at = stop_at;
    sm_segment_options opt;
    sm_segment_options_default(&opt);
    opt.method = net_model ? SM_METHOD_NET : SM_METHOD_CLASSIC;
    opt.model = net_model;
    opt.auto_detect = auto_mode;
    opt.redetect_every = 5;
    sm_session *s;
    sm_error err = {0};
    if (sm_session_open_reader(&s, W, H, F, reader, (void *)c, &opt, &err) < 0) return -100;
    for (int i = 0; i < np; i++)
        if (sm_session_add_prompt(s, &p[i], &err) < 0) {
            sm_session_close(s);
            return -101;
        }
    int rc = sm_session_propagate(s, on_frame, u, &err);
    if (rc < 0 && rc != SM_ECANCELLED) printf("info: propagate: %s\n", err.msg);
    sm_session_close(s);
    return rc;
}

static double mean_iou(const run *u, int id, int f0, int f1) {
    double s = 0;
    for (int t = f0; t <= f1; t++) s += u->iou[id - 1][t];
    return s / (f1 - f0 + 1);
}

static double median_err(const run *u, int id, int f0, int f1) {
    double v[F];
    int n = 0;
    for (int t = f0; t <= f1; t++) v[n++] = isnan(u->err[id - 1][t]) ? 1e9 : u->err[id - 1][t];
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && v[b] < v[b - 1]; b--) {
            double x = v[b];
            v[b] = v[b - 1], v[b - 1] = x;
        }
    return v[n / 2];
}

static sm_prompt box_around(int id, int64_t frame, const synth_obj *o) {
    sm_prompt p = {0};
    double h = o->r + o->half_len + 2;
    p.kind = SM_PROMPT_BOX, p.object_id = id, p.frame = frame;
    p.x0 = o->x - h, p.x1 = o->x + h, p.y0 = o->y - h, p.y1 = o->y + h;
    return p;
}

int main(void) {
    sm_error err0 = {0};
    static clip c;
    static run u;
    /* two dark disks moving with a random walk plus drift, contrast-to-noise 1.2 per pixel */
    c.n = 2, c.noise = 1.0, c.edge = 1.2, c.seed = 11;
    sm_rng rng;
    sm_rng_seed(&rng, 3);
    synth_obj a = {.x = 50, .y = 60, .r = 9, .amp = -1.2}, b = {.x = 110, .y = 100, .r = 11, .amp = -1.2};
    for (int t = 0; t < F; t++) {
        c.obj[t][0] = a, c.obj[t][1] = b;
        a.x += 1.0 + sm_rng_normal(&rng), a.y += 0.5 * sm_rng_normal(&rng);
        b.x -= 0.5 + sm_rng_normal(&rng), b.y += 0.7 * sm_rng_normal(&rng);
    }
    sm_prompt p[4];
    p[0] = box_around(1, 0, &c.obj[0][0]);
    p[1] = box_around(2, 0, &c.obj[0][1]);
    int rc = run_session(&c, p, 2, 0, &u, -1);
    SM_CHECK("propagate succeeds", rc == 0);
    SM_CHECK("every frame once, in order", u.order_ok && u.frames_seen == F);
    double i1 = mean_iou(&u, 1, 0, F - 1), i2 = mean_iou(&u, 2, 0, F - 1);
    SM_CHECKF("classic mean IoU >= 0.8 at CNR 1.2 (object 1)", i1 >= 0.8, "%.3f", i1);
    SM_CHECKF("classic mean IoU >= 0.8 at CNR 1.2 (object 2)", i2 >= 0.8, "%.3f", i2);
    double e1 = median_err(&u, 1, 0, F - 1), e2 = median_err(&u, 2, 0, F - 1);
    SM_CHECKF("median centroid error < 0.6 px (refined)", e1 < 0.6 && e2 < 0.6, "%.3f %.3f", e1, e2);
    printf("info: IoU %.3f %.3f, median centroid error %.3f %.3f px\n", i1, i2, e1, e2);

    /* backward: object 2 prompted on frame 15 only; object 1 on frame 0 */
    p[1] = box_around(2, 15, &c.obj[15][1]);
    rc = run_session(&c, p, 2, 0, &u, -1);
    SM_CHECK("propagate with a later prompt succeeds", rc == 0 && u.order_ok && u.frames_seen == F);
    double back = mean_iou(&u, 2, 0, 14), fwd = mean_iou(&u, 2, 15, F - 1);
    SM_CHECKF("backward propagation from frame 15 to 0: IoU >= 0.8", back >= 0.8, "%.3f", back);
    SM_CHECKF("forward from frame 15: IoU >= 0.8", fwd >= 0.8, "%.3f", fwd);
    int vis_all = 1;
    for (int t = 0; t < F; t++) vis_all &= u.visible[1][t];
    SM_CHECK("object 2 visible on every frame", vis_all);

    /* correction: object 1 starts on disk A, a box on frame 10 moves it onto disk B; object 2 unprompted */
    p[0] = box_around(1, 0, &c.obj[0][0]);
    p[1] = box_around(1, 10, &c.obj[10][1]);
    rc = run_session(&c, p, 2, 0, &u, -1);
    {
        /* object 1's mask must sit on disk B (truth label 2) from frame 10 on: compare centroids */
        int on_b = 0, on_a = 0;
        for (int t = 10; t < F; t++) on_b += u.visible[0][t] && u.err[0][t] > 20;  /* far from disk A's truth */
        for (int t = 0; t < 10; t++) on_a += u.visible[0][t] && u.err[0][t] < 2;
        SM_CHECKF("before the correction object 1 follows disk A", on_a == 10, "%d/10", on_a);
        SM_CHECKF("after the correction it follows disk B", on_b == F - 10, "%d/%d", on_b, F - 10);
    }

    /* leaving and re-entering: a disk walks out through the left edge and comes back */
    static clip l;
    l.n = 1, l.noise = 1.0, l.edge = 1.2, l.seed = 5;
    for (int t = 0; t < F; t++) {
        double x = t < 15 ? 40 - 6.0 * t : 40 - 6.0 * (29 - t) - 6; /* out at t ~ 9..19 */
        l.obj[t][0] = (synth_obj){.x = x, .y = 80, .r = 9, .amp = -1.5};
    }
    p[0] = box_around(1, 0, &l.obj[0][0]);
    rc = run_session(&l, p, 1, 0, &u, -1);
    SM_CHECK("leaving clip propagates", rc == 0);
    int gone_ok = 1, back_ok = 1, in_ok = 1;
    for (int t = 0; t < F; t++) {
        double x = l.obj[t][0].x;
        if (x < -10) gone_ok &= !u.visible[0][t] && u.score[0][t] < 0.5;
        if (x > 12 && t > 20) back_ok &= u.visible[0][t] && u.iou[0][t] > 0.7;
        if (x > 12 && t < 5) in_ok &= u.visible[0][t];
    }
    SM_CHECK("visible before leaving", in_ok);
    SM_CHECK("no mask and low objectness while outside the field", gone_ok);
    SM_CHECK("found again after re-entering (IoU > 0.7)", back_ok);

    /* a hop: a disk at contrast-to-noise 1.0 jumps 30 px (three radii, out of its search window) on frame 12
     * and rests there; it is found again within five frames, at the new place */
    static clip hop;
    hop.n = 1, hop.noise = 1.0, hop.edge = 1.2, hop.seed = 21;
    for (int t = 0; t < F; t++) hop.obj[t][0] = (synth_obj){.x = 60, .y = t < 12 ? 60 : 90, .r = 9, .amp = -1.0};
    p[0] = box_around(1, 0, &hop.obj[0][0]);
    rc = run_session(&hop, p, 1, 0, &u, -1);
    SM_CHECK("hop clip propagates", rc == 0);
    {
        int before = 0, after = 0;
        for (int t = 0; t < 12; t++) before += u.visible[0][t] && u.err[0][t] < 1.5;
        for (int t = 17; t < F; t++) after += u.visible[0][t] && u.err[0][t] < 1.5;
        SM_CHECKF("before the hop: followed on all 12 frames", before == 12, "%d/12", before);
        SM_CHECKF("after the hop: found again by frame 17 and followed", after == F - 17, "%d/%d", after, F - 17);
    }

    /* a point prompt on a faint disk (contrast-to-noise 0.5 per pixel): the polarity comes from the detector on
     * the frames around the prompt, not from the few pixels around the point (which took this disk for a
     * bright one in 2 of these 6 runs, and the disk was lost) */
    static clip faint;
    faint.n = 1, faint.noise = 1.0, faint.edge = 1.2;
    int faint_ok = 0, faint_runs = 6;
    double faint_worst = 1;
    for (int k = 0; k < faint_runs; k++) {
        faint.seed = 300 + (uint64_t)k;
        for (int t = 0; t < F; t++) faint.obj[t][0] = (synth_obj){.x = 70 + 0.2 * t, .y = 80, .r = 11, .amp = -0.5};
        p[0] = (sm_prompt){.kind = SM_PROMPT_POINT, .object_id = 1, .frame = 0, .x = 70.4, .y = 79.6};
        rc = run_session(&faint, p, 1, 0, &u, -1);
        double m = mean_iou(&u, 1, 0, F - 1);
        faint_ok += rc == 0 && m >= 0.5;
        if (m < faint_worst) faint_worst = m;
    }
    SM_CHECKF("point prompt on a faint disk: mean IoU >= 0.5 in every run", faint_ok == faint_runs,
              "%d/%d, worst %.3f", faint_ok, faint_runs, faint_worst);

    /* two overlapping disks, both prompted with a box, with the shipped network: each keeps its own part of
     * the blob on every frame (before, each mask lay on the other's predicted centre and both were dropped on
     * alternate frames, or one object took the whole blob) */
    if (sm_model_load(&net_model, "models/samem.safetensors", &err0) == 0) {
        static clip ov;
        ov.n = 2, ov.noise = 0.5, ov.edge = 1.0, ov.seed = 21;
        for (int t = 0; t < F; t++) {
            ov.obj[t][0] = (synth_obj){.x = 60 + 0.2 * t, .y = 80, .r = 10, .amp = -1.0};
            ov.obj[t][1] = (synth_obj){.x = 74 + 0.5 * t, .y = 80 + 0.2 * t, .r = 10, .amp = -1.0};
        }
        p[0] = box_around(1, 0, &ov.obj[0][0]), p[1] = box_around(2, 0, &ov.obj[0][1]);
        rc = run_session(&ov, p, 2, 0, &u, -1);
        int shown = 0;
        double worst = 1;
        for (int t = 0; t < F; t++)
            for (int k = 0; k < 2; k++) {
                shown += u.visible[k][t];
                if (u.iou[k][t] < worst) worst = u.iou[k][t];
            }
        SM_CHECKF("two overlapping disks (network): both shown on every frame", rc == 0 && shown == 2 * F, "%d of %d",
                  shown, 2 * F);
        SM_CHECKF("two overlapping disks (network): mean IoU >= 0.7 each, >= 0.4 on every frame",
                  mean_iou(&u, 1, 0, F - 1) >= 0.7 && mean_iou(&u, 2, 0, F - 1) >= 0.7 && worst >= 0.4,
                  "%.3f %.3f, worst %.3f", mean_iou(&u, 1, 0, F - 1), mean_iou(&u, 2, 0, F - 1), worst);

        /* a large sharp-edged rod (106 x 43 px, the other group's simulated rod of ../shared/REAL_DATA.md) at
         * contrast-to-noise 1, drifting and turning: the network sees it area-averaged 3.7 times, and its masks
         * came out too large (mean IoU 0.72 here); drawn from the fitted shape at the profile's boundary
         * they score 0.88 */
        static clip big;
        big.n = 1, big.noise = 1.0, big.edge = 1.3, big.seed = 33;
        for (int t = 0; t < F; t++)
            big.obj[t][0] = (synth_obj){.x = 78 + 0.4 * t, .y = 80 - 0.3 * t, .r = 21.5, .half_len = 31.5, .angle = 0.3 + 0.01 * t, .amp = -1.0};
        p[0] = box_around(1, 0, &big.obj[0][0]);
        rc = run_session(&big, p, 1, 0, &u, -1);
        SM_CHECKF("large sharp rod (network): mean IoU >= 0.85", rc == 0 && mean_iou(&u, 1, 0, F - 1) >= 0.85, "%.3f",
                  mean_iou(&u, 1, 0, F - 1));
        /* a disk cut by the top border (its centre 3 px inside the field): the network's crop repeats the
         * border row outside the frame, and its masks stopped short of the border (mean IoU 0.925 here); the
         * strip between them is painted (0.950) */
        static clip cut;
        cut.n = 1, cut.noise = 1.0, cut.edge = 1.0, cut.seed = 41;
        for (int t = 0; t < F; t++) cut.obj[t][0] = (synth_obj){.x = 60 + 0.3 * t, .y = 3, .r = 11, .amp = -2.0};
        p[0] = box_around(1, 0, &cut.obj[0][0]);
        p[0].y0 = 0;
        rc = run_session(&cut, p, 1, 0, &u, -1);
        SM_CHECKF("disk cut by the border (network): mean IoU >= 0.94", rc == 0 && mean_iou(&u, 1, 0, F - 1) >= 0.94,
                  "%.3f", mean_iou(&u, 1, 0, F - 1));
        /* a weakly scattering sphere (contrast fading to its edge) cut by the left border, its centre 5 px inside:
         * the network's masks of such particles are too small, and inside the field the fitted shape drawn at
         * the edge profile's boundary replaces them; at the border it did not, until clear particles there were
         * fitted too (0.858 -> 0.954 mean IoU here) */
        static clip weak;
        weak.n = 1, weak.noise = 1.0, weak.edge = 1.0;
        double weak_iou = 0;
        for (int k = 0; k < 3; k++) {
            weak.seed = 61 + (uint64_t)k;
            for (int t = 0; t < F; t++)
                weak.obj[t][0] = (synth_obj){.x = 5 + 0.05 * t, .y = 70 + 0.3 * t, .r = 10, .amp = -4.0, .weak = 1};
            p[0] = box_around(1, 0, &weak.obj[0][0]);
            p[0].x0 = 0;
            rc = run_session(&weak, p, 1, 0, &u, -1);
            weak_iou += (rc == 0 ? mean_iou(&u, 1, 0, F - 1) : 0) / 3;
        }
        SM_CHECKF("weak sphere cut by the border (network, 3 seeds): mean IoU >= 0.92 (0.858 without the fits)",
                  weak_iou >= 0.92, "%.3f", weak_iou);

        /* a disk leaves through the left border for good (5 noise seeds): before, the network kept drawing
         * its mask on the noise by the border, with objectness near 1, for 3 to 25 frames in 4 of these runs;
         * an object seen clearly whose mask shows nothing on this frame nor on the frames read ahead has left */
        static clip gone;
        gone.n = 1, gone.noise = 1.0, gone.edge = 1.2;
        for (int t = 0; t < F; t++) gone.obj[t][0] = (synth_obj){.x = 30 - 8.0 * t, .y = 80, .r = 9, .amp = -1.5};
        int ghost = 0, gone_runs_ok = 0;
        for (int k = 0; k < 5; k++) {
            gone.seed = 43 + (uint64_t)k;
            p[0] = box_around(1, 0, &gone.obj[0][0]);
            rc = run_session(&gone, p, 1, 0, &u, -1);
            int seen_before = 1;
            for (int t = 0; t < 4; t++) seen_before &= u.visible[0][t];
            for (int t = 5; t < F; t++) ghost += u.visible[0][t]; /* fully outside from t = 5 */
            gone_runs_ok += rc == 0 && seen_before;
        }
        SM_CHECKF("disk that left the field for good (network): followed until it left, no mask after (5 runs)",
                  gone_runs_ok == 5 && ghost == 0, "%d runs ok, %d frames with a mask after it left", gone_runs_ok, ghost);

        /* a disk cut by the left border, in noise correlated as another group's simulator has it (0.67 between
         * neighbours), hops out of the field on frame 10 (20 noise seeds): the network drew masks on blobs of the
         * noise by the border, which passed the evidence thresholds tuned on weakly correlated noise (on the first
         * 5 seeds, 36 of the 100 frames after the hop had a mask; 17 with the evidence scaled to the noise's
         * correlation). Five seeds were too few to tell changes apart: with the border fits of clear particles
         * they gave 23 frames, yet over these 20 seeds 81 of 400 against 95 before. */
        static clip hop;
        hop.n = 1, hop.noise = 1.0, hop.edge = 1.2, hop.noise_corr = 0.8;
        for (int t = 0; t < F; t++)
            hop.obj[t][0] = (synth_obj){.x = t < 10 ? 4 + 0.1 * t : -40, .y = 80 + 0.2 * t, .r = 12, .amp = -1.8};
        int hop_ghost = 0, hop_runs_ok = 0;
        for (int k = 0; k < 20; k++) {
            hop.seed = 71 + (uint64_t)k;
            p[0] = box_around(1, 0, &hop.obj[0][0]);
            p[0].x0 = 0;
            rc = run_session(&hop, p, 1, 0, &u, -1);
            for (int t = 10; t < F; t++) hop_ghost += u.visible[0][t];
            hop_runs_ok += rc == 0 && mean_iou(&u, 1, 0, 9) > 0.7;
        }
        SM_CHECKF("disk at the border that hops out in correlated noise (network): followed before, at most 100 of "
                  "the 400 frames after with a mask (20 runs)",
                  hop_runs_ok == 20 && hop_ghost <= 100, "%d runs ok, %d frames with a mask after it left", hop_runs_ok,
                  hop_ghost);

        /* a disk at contrast-to-noise 2 in noise correlated over ~2 px fades out for 10 frames (dissolving, or
         * lost in thick liquid) and comes back where it drifted to (5 noise seeds): before, the network's masks
         * slid onto the noise, 30 px per frame towards the darker side of the illumination slope, the lost
         * object was searched for where they had led, and the disk was never found again in any of the 5 runs
         * (11 of the 40 faded frames had a mask; now 5, in one run where noise of the disk's size passed every
         * check for 5 frames) */
        static clip fade;
        fade.n = 1, fade.noise = 1.0, fade.edge = 1.2, fade.noise_corr = 0.7;
        for (int t = 0; t < F; t++)
            fade.obj[t][0] =
                (synth_obj){.x = 70 + 0.4 * t, .y = 80 - 0.3 * t, .r = 10, .amp = t >= 10 && t < 20 ? 0.0 : -2.0};
        int fade_masks = 0, fade_back = 0, fade_runs_ok = 0;
        for (int k = 0; k < 5; k++) {
            fade.seed = 61 + (uint64_t)k;
            p[0] = box_around(1, 0, &fade.obj[0][0]);
            rc = run_session(&fade, p, 1, 0, &u, -1);
            for (int t = 12; t < 20; t++) fade_masks += u.visible[0][t];
            int back = 1;
            for (int t = 22; t < F; t++) back &= u.visible[0][t] && u.iou[0][t] > 0.7;
            fade_back += back;
            fade_runs_ok += rc == 0 && mean_iou(&u, 1, 0, 9) > 0.8;
        }
        SM_CHECKF("disk that fades for 10 frames (network): tracked before, found again after (IoU > 0.7), 5 runs",
                  fade_runs_ok == 5 && fade_back == 5, "%d runs tracked before, %d found again", fade_runs_ok,
                  fade_back);
        SM_CHECKF("disk that fades (network): at most 6 of its 40 faded frames with a mask", fade_masks <= 6, "%d",
                  fade_masks);
        sm_model_destroy(net_model);
        net_model = NULL;
    } else {
        SM_CHECKF("the shipped weights load", 0, "%s", err0.msg);
    }

    /* automatic mode finds both disks of the first clip */
    rc = run_session(&c, NULL, 0, 1, &u, -1);
    SM_CHECK("auto mode propagates", rc == 0);
    double ia = mean_iou(&u, 1, 0, F - 1), ib = mean_iou(&u, 2, 0, F - 1);
    double ia2 = 0, ib2 = 0; /* detection order is by strength: the ids may be swapped */
    for (int t = 0; t < F; t++) ia2 += u.iou_x[0][t] / F, ib2 += u.iou_x[1][t] / F;
    SM_CHECKF("auto mode: two objects found", u.max_id == 2, "max id %d", u.max_id);
    SM_CHECKF("auto mode: both segmented with IoU >= 0.8", (ia >= 0.8 && ib >= 0.8) || (ia2 >= 0.8 && ib2 >= 0.8),
              "%.3f %.3f / swapped %.3f %.3f", ia, ib, ia2, ib2);

    /* automatic mode: a particle seen only on frames 16-19 is in the detector's 5-frame mean at frame 20 but
     * gone from the frames after it; it must not start an object there (before, such ghosts of particles
     * that hopped away became objects that followed noise) */
    static clip ghost;
    ghost.n = 1, ghost.noise = 1.0, ghost.edge = 1.2, ghost.seed = 17;
    for (int t = 0; t < F; t++)
        ghost.obj[t][0] = (synth_obj){.x = 80, .y = 80, .r = 9, .amp = t >= 16 && t <= 19 ? -1.5 : 0.0};
    if (sm_model_load(&net_model, "models/samem.safetensors", &err0) < 0) net_model = NULL;
    rc = run_session(&ghost, NULL, 0, 1, &u, -1); /* with the network, which draws a mask on noise */
    sm_model_destroy(net_model);
    net_model = NULL;
    int ghost_shown = 0;
    for (int t = 21; t < F; t++)
        for (int k = 0; k < 4; k++) ghost_shown += u.visible[k][t];
    SM_CHECKF("auto mode: a particle gone before the re-detection's prompt frame starts no object",
              rc == 0 && ghost_shown == 0, "rc %d, %d object-frames shown from frame 21", rc, ghost_shown);

    /* automatic mode on noise alone: nothing found, no object, no error */
    static clip empty;
    empty.n = 0, empty.noise = 1.0, empty.edge = 1.2, empty.seed = 4;
    rc = run_session(&empty, NULL, 0, 1, &u, -1);
    SM_CHECKF("auto mode on noise alone: no object", rc == 0 && u.max_id == 0, "rc %d, max id %d", rc, u.max_id);

    /* automatic mode: a particle that hops 35 px on a re-detection frame (every 5th here) keeps its id. The
     * re-detection, on the mean of frames t-4..t, had found it where its track had not yet followed it, made a
     * new object of it, and that object took the particle over on the next frame (an ID switch) */
    static clip redetect_hop;
    redetect_hop.n = 1, redetect_hop.noise = 1.0, redetect_hop.edge = 1.0, redetect_hop.seed = 6;
    for (int t = 0; t < F; t++)
        redetect_hop.obj[t][0] = (synth_obj){.x = 50 + 0.3 * t + (t >= 10 ? 35 : 0), .y = 80, .r = 9, .amp = -2.5};
    if (sm_model_load(&net_model, "models/samem.safetensors", &err0) < 0) net_model = NULL;
    rc = run_session(&redetect_hop, NULL, 0, 1, &u, -1);
    sm_model_destroy(net_model);
    net_model = NULL;
    int hop_seen = 0;
    for (int t = 0; t < F; t++) hop_seen += u.iou[0][t] >= 0.5;
    SM_CHECKF("auto mode: a particle hopping on a re-detection frame keeps its id",
              rc == 0 && u.max_id == 1 && hop_seen >= F - 2, "rc %d, max id %d, %d of %d frames with IoU >= 0.5", rc,
              u.max_id, hop_seen, F);

    /* automatic mode: a particle seen only cut by the border (a sliver of a quarter of its area) leaves, and
     * comes back whole 8 px further down: it keeps its id. (Here the lost object's own search finds it; on the
     * benchmark's video 2 the search missed a fainter one, and the detection that found it, 2.5 times the
     * sliver's area, had become a new object: automatic mode now waives that size limit for objects lost at
     * the border. That case is measured by the benchmark's ID-switch count, not here.) */
    static clip reenter;
    reenter.n = 1, reenter.noise = 1.0, reenter.edge = 1.0, reenter.seed = 8;
    for (int t = 0; t < F; t++) {
        double x = t < 8 ? -4.0 : t < 14 ? -30.0 : 16.0;
        reenter.obj[t][0] = (synth_obj){.x = x, .y = t < 14 ? 80 : 88, .r = 10, .amp = -1.0};
    }
    if (sm_model_load(&net_model, "models/samem.safetensors", &err0) < 0) net_model = NULL;
    rc = run_session(&reenter, NULL, 0, 1, &u, -1);
    sm_model_destroy(net_model);
    net_model = NULL;
    int back_seen = 0, sliver_seen = 0;
    for (int t = 0; t < 8; t++) sliver_seen += u.iou[0][t] >= 0.5;
    for (int t = 14; t < F; t++) back_seen += u.iou[0][t] >= 0.5;
    SM_CHECKF("auto mode: a particle that left cut by the border comes back whole with its id",
              rc == 0 && u.max_id == 1 && sliver_seen >= 6 && back_seen >= F - 14 - 3,
              "rc %d, max id %d, sliver seen on %d of 8 frames, back on %d of %d", rc, u.max_id, sliver_seen, back_seen,
              F - 14);

    /* cancelling and bad prompts */
    p[0] = box_around(1, 0, &c.obj[0][0]);
    rc = run_session(&c, p, 1, 0, &u, 4);
    SM_CHECK("callback stop gives SM_ECANCELLED after 5 frames", rc == SM_ECANCELLED && u.frames_seen == 5);
    sm_session *s;
    sm_error err = {0};
    SM_CHECK("session opens", sm_session_open_reader(&s, W, H, F, reader, &c, NULL, &err) == 0);
    sm_prompt bad = box_around(1, F, &c.obj[0][0]);
    SM_CHECK("prompt past the last frame is SM_EINVAL", sm_session_add_prompt(s, &bad, &err) == SM_EINVAL);
    bad = (sm_prompt){.kind = SM_PROMPT_POINT, .object_id = 1, .x = W + 5, .y = 3};
    SM_CHECK("point outside the frame is SM_EINVAL", sm_session_add_prompt(s, &bad, &err) == SM_EINVAL);
    sm_session_close(s);
    sm_session_close(NULL);
    sm_segment_options o;
    sm_segment_options_default(&o);
    o.method = SM_METHOD_NET;
    SM_CHECK("net without weights is SM_EINVAL", sm_session_open_reader(&s, W, H, F, reader, &c, &o, &err) == SM_EINVAL);
    return sm_test_report();
}
