/* `samem eval` end to end on label stacks written here with libtiff: the prediction equals the truth except
 * that the two objects' labels swap in frames 2 and 3. Hand-computed: optimal matching gives IoU = J&F = 1 and
 * centroid error 0; matching by id pairs equal labels even when they do not overlap: 8 pairs, 4 with IoU 1
 * and 4 with IoU 0 (mean 0.5); as tracks (labels = ids) TP 8, IDSW 2,
 * MOTA (8 - 2)/8 = 0.75, IDF1 4/8 = 0.5, HOTA sqrt(DetA 1 * AssA 1/3) (each of the 4 id pairs matched twice:
 * 2 * 2/(4 + 4 - 2) / 8 * 4 = 1/3). Point tracks with one switch, and exit codes for bad input. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

#include "cli_helpers.h"

#define W 32
#define H 16
#define NF 4

/* NF pages of w x H uint16 labels */
static int write_labels(const char *path, int w, double (*value)(int f, int x, int y)) {
    sm_test_stack s = {.width = w, .height = H, .frames = NF, .bits = 16, .value = value};
    return sm_test_write_stack(path, &s);
}

static int obj(int x, int y) {
    if (y >= 4 && y < 9 && x >= 3 && x < 8) return 1;
    if (y >= 6 && y < 11 && x >= 18 && x < 24) return 2;
    return 0;
}
static double gt(int f, int x, int y) { (void)f; return obj(x, y); }
static double pred(int f, int x, int y) {
    int o = obj(x, y);
    return o && f >= 2 ? 3 - o : o;
}

static double num(cJSON *root, const char *key) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int near(double a, double b) { return fabs(a - b) < 1e-9; }

int main(void) {
    if (!sm_test_samem_ready()) return sm_test_report();
    char gp[2048], pp[2048], js[2048], small[2048], tg[2048], tp[2048];
    sm_test_tmp_path(gp, sizeof gp, "gt.tif");
    sm_test_tmp_path(pp, sizeof pp, "pred.tif");
    sm_test_tmp_path(js, sizeof js, "scores.json");
    sm_test_tmp_path(small, sizeof small, "small.tif");
    sm_test_tmp_path(tg, sizeof tg, "gt.csv");
    sm_test_tmp_path(tp, sizeof tp, "pred.csv");
    SM_CHECK("stacks written with libtiff", write_labels(gp, W, gt) == 0 && write_labels(pp, W, pred) == 0 &&
             write_labels(small, W - 1, gt) == 0);

    SM_CHECK("samem eval exits 0", sm_test_samem("/dev/null", NULL, "eval %s %s --json %s", pp, gp, js) == 0);
    cJSON *r = cJSON_Parse(sm_test_slurp(js));
    SM_CHECK("JSON parses", r != NULL);
    const char *keys[] = {"iou_mean", "dice_mean", "jf_mean", "centroid_err_median", "centroid_err_rmse",
                          "id_switches", "mota", "idf1", "hota"};
    int have = 1;
    for (int i = 0; i < 9; i++) have &= cJSON_GetObjectItemCaseSensitive(r, keys[i]) != NULL;
    SM_CHECK("JSON has iou_mean dice_mean jf_mean centroid_err_median centroid_err_rmse id_switches mota idf1 hota", have);
    SM_CHECKF("optimal matching: IoU 1, Dice 1, J&F 1, centroid error 0", near(num(r, "iou_mean"), 1) &&
              near(num(r, "dice_mean"), 1) && near(num(r, "jf_mean"), 1) && near(num(r, "centroid_err_median"), 0) &&
              near(num(r, "centroid_err_rmse"), 0), "iou=%g", num(r, "iou_mean"));
    SM_CHECKF("tracking from labels: IDSW 2, MOTA 0.75, IDF1 0.5, HOTA sqrt(1/3)", near(num(r, "id_switches"), 2) &&
              near(num(r, "mota"), 0.75) && near(num(r, "idf1"), 0.5) && near(num(r, "hota"), sqrt(1.0 / 3)),
              "idsw=%g mota=%g idf1=%g hota=%g", num(r, "id_switches"), num(r, "mota"), num(r, "idf1"), num(r, "hota"));
    cJSON *ha = cJSON_GetObjectItemCaseSensitive(r, "hota_alpha");
    SM_CHECK("JSON has 19 per-alpha HOTA values", cJSON_IsArray(ha) && cJSON_GetArraySize(ha) == 19);
    cJSON_Delete(r);

    SM_CHECK("samem eval --match id exits 0",
             sm_test_samem("/dev/null", NULL, "eval %s %s --match id --json %s", pp, gp, js) == 0);
    r = cJSON_Parse(sm_test_slurp(js));
    SM_CHECKF("matching by id: IoU 0.5", r && near(num(r, "iou_mean"), 0.5), "iou=%g", r ? num(r, "iou_mean") : -1);
    cJSON_Delete(r);

    /* point tracks: truth 1 at (10, 5) over frames 0..3; prediction ids 7, 7, 8, 8 at (11, 5) */
    SM_CHECK("point track CSVs written",
             sm_test_write_text(tg, "frame,particle,x,y\n0,1,10,5\n1,1,10,5\n2,1,10,5\n3,1,10,5\n") == 0 &&
                 sm_test_write_text(tp, "frame,particle,x,y\n0,7,11,5\n1,7,11,5\n2,8,11,5\n3,8,11,5\n") == 0);
    SM_CHECK("samem eval with point tracks exits 0",
             sm_test_samem("/dev/null", NULL, "eval %s %s --tracks-pred %s --tracks-gt %s --radius 2 --json %s", pp, gp,
                           tp, tg, js) == 0);
    r = cJSON_Parse(sm_test_slurp(js));
    SM_CHECKF("point tracks: IDSW 1, MOTA 0.75, IDF1 0.5", r && near(num(r, "id_switches"), 1) && near(num(r, "mota"), 0.75) &&
              near(num(r, "idf1"), 0.5), "idsw=%g mota=%g", r ? num(r, "id_switches") : -1, r ? num(r, "mota") : -1);
    cJSON_Delete(r);

    SM_CHECK("stacks of different sizes: exit 2", sm_test_samem("/dev/null", "/dev/null", "eval %s %s", small, gp) == 2);
    SM_CHECK("--tracks-pred without --tracks-gt: exit 1",
             sm_test_samem("/dev/null", "/dev/null", "eval %s %s --tracks-pred %s", pp, gp, tp) == 1);
    SM_CHECK("one positional: exit 1", sm_test_samem("/dev/null", "/dev/null", "eval %s", pp) == 1);
    return sm_test_report();
}
