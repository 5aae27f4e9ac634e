/* Segmentation scores on hand-computed cases: perfect, empty frames, every object missed, false positives only,
 * a square shifted by 1 and 3 px (IoU 12/20 and 4/28, Dice 0.75 and 0.25, boundary F 1 and 0.5 at 1 px
 * tolerance, counted by hand in the comments), swapped labels (optimal matching vs matching by id), and
 * centroid error statistics against numpy's percentile rule. */
#include <math.h>
#include <stdlib.h>

#include "samem/metrics.h"
#include "test.h"

#define W 40
#define H 12

static void square(uint16_t *p, int x0, int y0, int size, int label) {
    for (int y = y0; y < y0 + size; y++)
        for (int x = x0; x < x0 + size; x++) p[y * W + x] = (uint16_t)label;
}

static int near(double a, double b) { return fabs(a - b) < 1e-12; }

static sm_seg_scores run(const uint16_t *pred, const uint16_t *gt, int nframes, int match, double bound) {
    sm_seg_params p;
    sm_seg_params_default(&p);
    p.match = match;
    if (bound > 0) p.bound_th = bound;
    sm_error err = {0};
    sm_seg_eval *e = sm_seg_eval_create(&p, &err);
    for (int f = 0; f < nframes; f++) sm_seg_eval_add_frame(e, f, pred + f * W * H, gt + f * W * H, W, H, NULL, &err);
    sm_seg_scores s;
    sm_seg_eval_finish(e, &s, &err);
    sm_seg_eval_destroy(e);
    return s;
}

int main(void) {
    static uint16_t gt[3 * W * H], pr[3 * W * H];
    sm_seg_scores s;

    /* perfect, with an empty frame between */
    square(gt, 2, 2, 4, 1);
    square(gt, 20, 3, 5, 2);
    square(pr, 2, 2, 4, 1);
    square(pr, 20, 3, 5, 2);
    square(gt + 2 * W * H, 10, 4, 3, 1);
    square(pr + 2 * W * H, 10, 4, 3, 1);
    s = run(pr, gt, 3, SM_MATCH_OPTIMAL, 0);
    SM_CHECKF("perfect masks with an empty frame: IoU, Dice, F, J&F, SEG all 1, centroid error 0",
              s.n_rows == 3 && near(s.iou_mean, 1) && near(s.dice_mean, 1) && near(s.f_mean, 1) &&
              near(s.jf_mean, 1) && near(s.ctc_seg, 1) && near(s.centroid_err_rmse, 0),
              "rows=%lld iou=%g f=%g seg=%g", (long long)s.n_rows, s.iou_mean, s.f_mean, s.ctc_seg);
    sm_seg_scores_free(&s);

    static uint16_t zero[W * H];
    s = run(zero, zero, 1, SM_MATCH_OPTIMAL, 0);
    SM_CHECK("both empty: no rows, means 1 (DAVIS's empty-empty), SEG and centroid error NaN",
             s.n_rows == 0 && s.iou_mean == 1 && s.jf_mean == 1 && isnan(s.ctc_seg) && isnan(s.centroid_err_median));
    sm_seg_scores_free(&s);

    s = run(zero, gt, 1, SM_MATCH_OPTIMAL, 0);
    SM_CHECK("every object missed: 2 rows, IoU = Dice = F = J&F = SEG = 0", s.n_rows == 2 && s.iou_mean == 0 &&
             s.dice_mean == 0 && s.f_mean == 0 && s.jf_mean == 0 && s.ctc_seg == 0 && isnan(s.centroid_err_mean));
    sm_seg_scores_free(&s);

    s = run(pr, zero, 1, SM_MATCH_OPTIMAL, 0);
    SM_CHECK("false positives only: 2 rows scoring 0, SEG NaN (no truth object)", s.n_rows == 2 &&
             s.iou_mean == 0 && s.f_mean == 0 && isnan(s.ctc_seg));
    sm_seg_scores_free(&s);

    /* 4x4 square at x 2..5, y 2..5; prediction shifted by 1 px: I = 12, U = 20. Both 12-pixel rings lie within
     * 1 px of each other, so P = R = 1 at a 1 px tolerance. */
    static uint16_t g1[W * H], p1[W * H], p3[W * H];
    square(g1, 2, 2, 4, 1);
    square(p1, 3, 2, 4, 1);
    s = run(p1, g1, 1, SM_MATCH_ID, 1);
    SM_CHECKF("shift 1 px: IoU 0.6, Dice 0.75, F 1 (1 px tolerance), J&F 0.8, centroid error 1, SEG 0.6",
              s.n_rows == 1 && near(s.iou_mean, 0.6) && near(s.dice_mean, 0.75) && near(s.f_mean, 1) &&
              near(s.jf_mean, 0.8) && near(s.centroid_err_median, 1) && near(s.ctc_seg, 0.6),
              "iou=%g dice=%g f=%g seg=%g", s.iou_mean, s.dice_mean, s.f_mean, s.ctc_seg);
    sm_seg_scores_free(&s);
    /* shifted by 3 px (x 5..8): I = 4, U = 28. Prediction ring pixels within 1 px of the truth ring: (5,2),
     * (6,2), (5,5), (6,5), (5,3), (5,4) = 6 of 12, so P = 0.5, and R = 0.5 by symmetry: F = 0.5. The
     * prediction covers 4 of 16 truth pixels (not more than half): SEG 0. */
    square(p3, 5, 2, 4, 1);
    s = run(p3, g1, 1, SM_MATCH_ID, 1);
    SM_CHECKF("shift 3 px: IoU 1/7, Dice 0.25, F 0.5, J&F (1/7 + 0.5)/2, centroid error 3, SEG 0",
              s.n_rows == 1 && near(s.iou_mean, 1.0 / 7) && near(s.dice_mean, 0.25) && near(s.f_mean, 0.5) &&
              near(s.jf_mean, (1.0 / 7 + 0.5) / 2) && near(s.centroid_err_mean, 3) && s.ctc_seg == 0,
              "iou=%g dice=%g f=%g seg=%g", s.iou_mean, s.dice_mean, s.f_mean, s.ctc_seg);
    sm_seg_scores_free(&s);
    /* DAVIS tolerance on a 40x12 image: ceil(0.008 * 41.76) = 1 px, the same result */
    s = run(p3, g1, 1, SM_MATCH_ID, 0);
    SM_CHECKF("default tolerance 0.008 of the diagonal = 1 px here: F 0.5", near(s.f_mean, 0.5), "f=%g", s.f_mean);
    sm_seg_scores_free(&s);

    /* swapped labels: pred 7 covers truth 1, pred 3 covers truth 2 */
    static uint16_t gs[W * H], ps[W * H];
    square(gs, 2, 2, 4, 1);
    square(gs, 20, 3, 5, 2);
    square(ps, 2, 2, 4, 7);
    square(ps, 20, 3, 5, 3);
    s = run(ps, gs, 1, SM_MATCH_OPTIMAL, 0);
    SM_CHECKF("different ids, optimal matching: IoU 1 on 2 pairs", s.n_rows == 2 && s.n_pairs == 2 && near(s.iou_mean, 1),
              "rows=%lld iou=%g", (long long)s.n_rows, s.iou_mean);
    sm_seg_scores_free(&s);
    s = run(ps, gs, 1, SM_MATCH_ID, 0);
    SM_CHECKF("different ids, matching by id: 2 misses + 2 false positives, IoU 0", s.n_rows == 4 && s.n_pairs == 0 &&
              s.iou_mean == 0, "rows=%lld", (long long)s.n_rows);
    sm_seg_scores_free(&s);
    /* optimal matching prefers the larger total IoU over a greedy first pick */
    static uint16_t ga[W * H], pa[W * H];
    square(ga, 2, 2, 4, 1);    /* truth 1: x 2..5 */
    square(ga, 6, 2, 4, 2);    /* truth 2: x 6..9 */
    square(pa, 3, 2, 4, 1);    /* pred 1: x 3..6, IoU 12/20 with truth 1, 4/28 with truth 2 */
    square(pa, 8, 2, 4, 2);    /* pred 2: x 8..11, IoU 8/24 with truth 2 */
    s = run(pa, ga, 1, SM_MATCH_OPTIMAL, 0);
    SM_CHECKF("optimal pairs (1,1) and (2,2): mean IoU (0.6 + 1/3)/2", s.n_pairs == 2 &&
              near(s.iou_mean, (0.6 + 1.0 / 3) / 2), "iou=%g", s.iou_mean);
    sm_seg_scores_free(&s);

    /* centroid errors 0, 1, 2, 3 px: median 1.5, mean 1.5, RMSE sqrt(3.5), p95 = 2 + 0.85 (numpy linear) */
    static uint16_t gc[W * H], pc[W * H];
    for (int k = 0; k < 4; k++) {
        square(gc, 1 + 9 * k, 1, 5, k + 1);
        square(pc, 1 + 9 * k + k, 1, 5, k + 1);
    }
    s = run(pc, gc, 1, SM_MATCH_ID, 0);
    SM_CHECKF("centroid errors 0..3: median 1.5, mean 1.5, RMSE sqrt(3.5), p95 2.85", s.n_pairs == 4 &&
              near(s.centroid_err_median, 1.5) && near(s.centroid_err_mean, 1.5) &&
              near(s.centroid_err_rmse, sqrt(3.5)) && fabs(s.centroid_err_p95 - 2.85) < 1e-12,
              "median=%g mean=%g rmse=%g p95=%g", s.centroid_err_median, s.centroid_err_mean, s.centroid_err_rmse,
              s.centroid_err_p95);
    char path[2048];
    sm_error err = {0};
    sm_test_tmp_path(path, sizeof path, "objects.csv");
    char *text = NULL;
    size_t len;
    int rc = sm_seg_objects_write_csv(&s, path, &err);
    rc |= sm_read_text_file(path, 1 << 20, &text, &len, &err);
    SM_CHECKF("per-object CSV: header and 4 rows", rc == 0 && text && strncmp(text, "frame,gt,pred,iou,dice,f,jf,centroid_err\n", 41) == 0,
              "%s", text ? text : err.msg);
    free(text);
    sm_seg_scores_free(&s);
    return sm_test_report();
}
