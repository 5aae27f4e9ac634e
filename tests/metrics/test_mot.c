/* Tracking scores on hand-computed cases, with TrackEval's definitions (the arithmetic is in the comments):
 * perfect tracks with an empty frame, every object missed, false positives only, one ID switch, one
 * fragmentation, a similarity just above 0.5 (HOTA counts it for 10 of its 19 alphas), point tracks, and
 * mask tracks from label planes. */
#include <math.h>
#include <stdlib.h>

#include "samem/metrics.h"
#include "test.h"

static int near(double a, double b) { return fabs(a - b) < 1e-9; }

/* Adds a frame where gt ids g[] and pred ids p[] are paired index-wise with similarity sim (pairs = min of
 * the counts, or npairs when given). */
static void frame(sm_mot *m, int ng, const int64_t *g, int np, const int64_t *p, int npairs, const int *pg,
                  const int *pp, const double *ps) {
    sm_error err = {0};
    sm_mot_add_frame(m, ng, g, np, p, npairs, pg, pp, ps, &err);
}

static sm_mot_scores score(sm_mot *m) {
    sm_mot_scores s;
    sm_error err = {0};
    sm_mot_compute(m, 0.5, &s, &err);
    sm_mot_destroy(m);
    return s;
}

int main(void) {
    int64_t ids12[2] = {1, 2}, id1[1] = {1}, id2[1] = {2};
    int i01[2] = {0, 1}, i0[1] = {0};
    double one2[2] = {1, 1}, one[1] = {1};
    sm_mot_scores s;
    sm_mot *m;

    /* perfect: 2 tracks over 4 frames, frame 2 empty on both sides */
    m = sm_mot_create();
    for (int f = 0; f < 5; f++) {
        if (f == 2) frame(m, 0, NULL, 0, NULL, 0, NULL, NULL, NULL);
        else frame(m, 2, ids12, 2, ids12, 2, i01, i01, one2);
    }
    s = score(m);
    SM_CHECKF("perfect with an empty frame: MOTA 1, IDF1 1, HOTA 1, no switch, no fragmentation",
              near(s.mota, 1) && near(s.idf1, 1) && near(s.hota, 1) && near(s.deta, 1) && near(s.assa, 1) &&
              s.id_switches == 0 && s.fragmentations == 0 && s.tp == 8 && near(s.motp, 1),
              "mota=%g idf1=%g hota=%g idsw=%lld frag=%lld", s.mota, s.idf1, s.hota, (long long)s.id_switches,
              (long long)s.fragmentations);

    /* every object missed: TP 0, FN 6 -> MOTA 0/6 = 0; IDF1 0; DetA 0 so HOTA 0 */
    m = sm_mot_create();
    for (int f = 0; f < 3; f++) frame(m, 2, ids12, 0, NULL, 0, NULL, NULL, NULL);
    s = score(m);
    SM_CHECKF("every object missed: FN 6, MOTA 0, IDF1 0, HOTA 0", s.fn == 6 && s.tp == 0 && near(s.mota, 0) &&
              near(s.idf1, 0) && near(s.hota, 0) && s.idfn == 6, "fn=%lld mota=%g", (long long)s.fn, s.mota);

    /* false positives only: FP 3, MOTA = (0 - 3 - 0) / max(1, 0) = -3 (TrackEval), IDF1 0, HOTA 0 */
    m = sm_mot_create();
    for (int f = 0; f < 3; f++) frame(m, 0, NULL, 1, id1, 0, NULL, NULL, NULL);
    s = score(m);
    SM_CHECKF("false positives only: FP 3, MOTA -3, IDF1 0, HOTA 0", s.fp == 3 && near(s.mota, -3) &&
              near(s.idf1, 0) && near(s.hota, 0) && s.idfp == 3, "fp=%lld mota=%g", (long long)s.fp, s.mota);

    /* one ID switch: truth 1 over frames 0..3, predicted as 1 in frames 0,1 and as 2 in frames 2,3.
     * CLEAR: TP 4, IDSW 1 -> MOTA 3/4. Identity: (1,1) and (1,2) both 2 frames -> IDTP 2, IDFN 2, IDFP 2,
     * IDF1 = 2/4. HOTA: DetA 1; alignment counts 2 and 2, AssA = (2*2/4 + 2*2/4)/4 = 0.5, HOTA sqrt(0.5). */
    m = sm_mot_create();
    for (int f = 0; f < 4; f++) frame(m, 1, id1, 1, f < 2 ? id1 : id2, 1, i0, i0, one);
    s = score(m);
    SM_CHECKF("one ID switch: IDSW 1, MOTA 0.75, IDF1 0.5, DetA 1, AssA 0.5, HOTA sqrt(0.5), no fragmentation",
              s.id_switches == 1 && near(s.mota, 0.75) && near(s.idf1, 0.5) && near(s.deta, 1) && near(s.assa, 0.5) &&
              near(s.hota, sqrt(0.5)) && s.fragmentations == 0,
              "idsw=%lld mota=%g idf1=%g deta=%g assa=%g hota=%g frag=%lld", (long long)s.id_switches, s.mota, s.idf1,
              s.deta, s.assa, s.hota, (long long)s.fragmentations);

    /* one fragmentation: truth 1 and 2 over frames 0..4; pred 2 follows truth 2 throughout, pred 1 follows
     * truth 1 except in frame 2. CLEAR: TP 9, FN 1 -> MOTA 0.9, Frag 1, IDSW 0. Identity: IDTP 9, IDFN 1,
     * IDFP 0 -> IDF1 9/9.5. HOTA: DetA 9/10; AssA = (4*4/5 + 5*5/5)/9 = 8.2/9; HOTA sqrt(0.9*8.2/9). */
    m = sm_mot_create();
    for (int f = 0; f < 5; f++) {
        if (f == 2) {
            int pg[1] = {1}, pp[1] = {0};
            frame(m, 2, ids12, 1, id2, 1, pg, pp, one);
        } else {
            frame(m, 2, ids12, 2, ids12, 2, i01, i01, one2);
        }
    }
    s = score(m);
    SM_CHECKF("one fragmentation: Frag 1, IDSW 0, MOTA 0.9, IDF1 9/9.5, DetA 0.9, AssA 8.2/9",
              s.fragmentations == 1 && s.id_switches == 0 && near(s.mota, 0.9) && near(s.idf1, 9 / 9.5) &&
              near(s.deta, 0.9) && near(s.assa, 8.2 / 9) && near(s.hota, sqrt(0.9 * 8.2 / 9)),
              "frag=%lld idsw=%lld mota=%g idf1=%g deta=%g assa=%g hota=%g", (long long)s.fragmentations,
              (long long)s.id_switches, s.mota, s.idf1, s.deta, s.assa, s.hota);

    /* TrackEval's rule: a frame with no prediction at all counts FN but does not interrupt tracking */
    m = sm_mot_create();
    for (int f = 0; f < 5; f++) {
        if (f == 2) frame(m, 1, id1, 0, NULL, 0, NULL, NULL, NULL);
        else frame(m, 1, id1, 1, id1, 1, i0, i0, one);
    }
    s = score(m);
    SM_CHECKF("gap in a frame with no prediction: FN 1, Frag 0 (as TrackEval)", s.fn == 1 && s.fragmentations == 0,
              "fn=%lld frag=%lld", (long long)s.fn, (long long)s.fragmentations);

    /* one detection with similarity 0.52: matched for alpha 0.05..0.50 (10 of 19) with HOTA 1, else 0 */
    m = sm_mot_create();
    double s52[1] = {0.52};
    frame(m, 1, id1, 1, id1, 1, i0, i0, s52);
    s = score(m);
    SM_CHECKF("similarity 0.52: HOTA 10/19, LocA (10*0.52 + 9)/19, MOTA 1, MOTP 0.52", near(s.hota, 10.0 / 19) &&
              near(s.loca, (10 * 0.52 + 9) / 19) && near(s.mota, 1) && near(s.motp, 0.52) &&
              near(s.hota_alpha[9], 1) && near(s.hota_alpha[10], 0),
              "hota=%g loca=%g", s.hota, s.loca);

    /* CLEAR keeps a continuing match over a better new one: truth 1 matched to pred 1 (sim 0.6), then pred 2
     * has 0.9 and pred 1 has 0.6 -> stays with 1, no switch */
    m = sm_mot_create();
    double s6[1] = {0.6};
    frame(m, 1, id1, 1, id1, 1, i0, i0, s6);
    {
        int pg[2] = {0, 0}, pp[2] = {0, 1};
        double ps[2] = {0.6, 0.9};
        frame(m, 1, id1, 2, ids12, 2, pg, pp, ps);
    }
    s = score(m);
    SM_CHECKF("CLEAR prefers continuing the previous match: IDSW 0, FP 1", s.id_switches == 0 && s.fp == 1 && s.tp == 2,
              "idsw=%lld fp=%lld", (long long)s.id_switches, (long long)s.fp);

    /* point tracks: similarity 1 - d/(2r); r = 2: d = 1 matched (0.75), d = 3 not (0.25); a truth row with
     * visible = 0 does not count */
    sm_tracks *gt = sm_tracks_create(), *pr = sm_tracks_create();
    sm_error err = {0};
    for (int f = 0; f < 2; f++) {
        sm_tracks_row r = sm_tracks_row_empty();
        r.frame = f; r.particle = 5; r.x = 10; r.y = 10;
        sm_tracks_append(gt, &r, &err);
        r.particle = 6; r.x = 50;
        sm_tracks_append(gt, &r, &err);
        r.particle = 0; r.x = 11; r.y = 10;
        sm_tracks_append(pr, &r, &err);
        r.particle = 1; r.x = 53;
        sm_tracks_append(pr, &r, &err);
    }
    {
        sm_tracks_row r = sm_tracks_row_empty();   /* outside the field: left out */
        r.frame = 0; r.particle = 9; r.x = 80; r.y = 10; r.visible = 0;
        sm_tracks_append(gt, &r, &err);
    }
    m = sm_mot_create();
    int rc = sm_mot_add_points(m, gt, pr, 2, &err);
    s = score(m);
    SM_CHECKF("points: TP 2, FN 2, FP 2, MOTP 0.75, MOTA 0", rc == 0 && s.tp == 2 && s.fn == 2 && s.fp == 2 &&
              near(s.motp, 0.75) && near(s.mota, 0), "tp=%lld fn=%lld motp=%g", (long long)s.tp, (long long)s.fn, s.motp);
    sm_tracks_destroy(gt);
    sm_tracks_destroy(pr);

    /* masks: labels are track ids; pred swaps ids between frames 1 and 2 -> 2 switches */
    enum { W = 20, H = 8 };
    static uint16_t g[W * H], p[W * H];
    sm_seg_params sp;
    sm_seg_params_default(&sp);
    sm_seg_eval *se = sm_seg_eval_create(&sp, &err);
    m = sm_mot_create();
    for (int f = 0; f < 3; f++) {
        for (int i = 0; i < W * H; i++) g[i] = p[i] = 0;
        for (int y = 2; y < 6; y++)
            for (int x = 2; x < 6; x++) {
                g[y * W + x] = 1;
                g[y * W + x + 10] = 2;
                p[y * W + x] = f < 2 ? 1 : 2;
                p[y * W + x + 10] = f < 2 ? 2 : 1;
            }
        sm_seg_eval_add_frame(se, f, p, g, W, H, m, &err);
    }
    s = score(m);
    SM_CHECKF("mask tracks: IoU similarity, TP 6, IDSW 2, MOTA 4/6", s.tp == 6 && s.id_switches == 2 &&
              near(s.mota, 4.0 / 6), "tp=%lld idsw=%lld", (long long)s.tp, (long long)s.id_switches);
    sm_seg_eval_destroy(se);

    m = sm_mot_create();
    int64_t dup[2] = {3, 3};
    SM_CHECK("a repeated id in a frame is refused", sm_mot_add_frame(m, 2, dup, 0, NULL, 0, NULL, NULL, NULL, &err) == SM_EINVAL);
    sm_mot_destroy(m);
    return sm_test_report();
}
