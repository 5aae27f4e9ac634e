/* Segmentation scores against an independent reference: tests/metrics/seg_reference.py scores 25 random cases
 * (ellipses, shifted and relabelled predictions with dropped and extra objects) with dense numpy masks and
 * brute-force optimal matching; its output is tests/metrics/data/seg_reference.txt. Every score must agree
 * to 1e-9 (NaN where the reference has NaN). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samem/metrics.h"
#include "test.h"

static int same(double a, double b) { return (isnan(a) && isnan(b)) || fabs(a - b) < 1e-9; }

static int read_plane(FILE *fp, const char *tag, uint16_t *out, int n) {
    static char line[1 << 16];
    if (!fgets(line, sizeof line, fp) || strncmp(line, tag, strlen(tag)) != 0) return -1;
    const char *p = line + strlen(tag);
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        out[i] = (uint16_t)(p[i] - '0');
    }
    return 0;
}

int main(void) {
    FILE *fp = fopen("tests/metrics/data/seg_reference.txt", "r");
    SM_CHECK("reference file opens (run from the repository root)", fp != NULL);
    if (!fp) return sm_test_report();
    char line[4096];
    int cases = 0, bad = 0;
    sm_error err = {0};
    while (fgets(line, sizeof line, fp)) {
        int w, h, nf, r;
        if (sscanf(line, "case %d %d %d %d", &w, &h, &nf, &r) != 4) break;
        sm_seg_params p;
        sm_seg_params_default(&p);
        p.bound_th = r;
        sm_seg_eval *e = sm_seg_eval_create(&p, &err);
        uint16_t *pred = malloc(sizeof(uint16_t) * w * h), *gt = malloc(sizeof(uint16_t) * w * h);
        int ok = e != NULL;
        for (int f = 0; f < nf && ok; f++) {
            ok = read_plane(fp, "pred ", pred, w * h) == 0 && read_plane(fp, "gt ", gt, w * h) == 0 &&
                 sm_seg_eval_add_frame(e, f, pred, gt, w, h, NULL, &err) == 0;
        }
        double x[9];
        long long nrows, npairs;
        ok = ok && fgets(line, sizeof line, fp) &&
             sscanf(line, "expect %lf %lf %lf %lf %lf %lf %lf %lf %lf %lld %lld", &x[0], &x[1], &x[2], &x[3], &x[4], &x[5],
                    &x[6], &x[7], &x[8], &nrows, &npairs) == 11;
        sm_seg_scores s = {0};
        ok = ok && sm_seg_eval_finish(e, &s, &err) == 0;
        if (!ok) {
            printf("case %d: malformed or failed: %s\n", cases, err.msg);
            bad++;
            sm_seg_eval_destroy(e);
            free(pred); free(gt);
            break;
        }
        double got[9] = {s.iou_mean, s.dice_mean, s.f_mean, s.jf_mean, s.ctc_seg, s.centroid_err_median,
                         s.centroid_err_mean, s.centroid_err_rmse, s.centroid_err_p95};
        int good = s.n_rows == nrows && s.n_pairs == npairs;
        for (int k = 0; k < 9; k++) good &= same(got[k], x[k]);
        if (!good) {
            bad++;
            printf("case %d: rows %lld/%lld pairs %lld/%lld;", cases, (long long)s.n_rows, nrows, (long long)s.n_pairs, npairs);
            for (int k = 0; k < 9; k++) printf(" %g/%g", got[k], x[k]);
            printf("\n");
        }
        cases++;
        sm_seg_scores_free(&s);
        sm_seg_eval_destroy(e);
        free(pred);
        free(gt);
    }
    fclose(fp);
    SM_CHECKF("25 random cases: IoU, Dice, F, J&F, SEG, centroid error median/mean/RMSE/p95, row and pair counts "
              "equal the numpy reference (1e-9)", cases == 25 && bad == 0, "cases=%d wrong=%d", cases, bad);
    return sm_test_report();
}
