/* samem eval PRED GT: segmentation and tracking scores of a predicted label stack against a truth label stack
 * (src/metrics; definitions in include/samem/metrics.h). Tracking scores come from the label ids as track ids
 * (mask IoU similarity), or from point track tables when --tracks-pred and --tracks-gt are given. Prints a
 * table; --json writes the numbers, --objects the per-object rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "samem/io.h"
#include "samem/metrics.h"
#include "samem/tracks.h"

static int to_labels(const float *in, uint16_t *out, size_t n, const char *path, int64_t f, sm_error *err) {
    for (size_t i = 0; i < n; i++) {
        float v = in[i];
        if (!(v >= 0 && v <= 65535) || v != floorf(v))
            return sm_error_set(err, SM_EFORMAT, "%s: frame %lld has value %g, not a label 0..65535", path, (long long)f,
                                (double)v);
        out[i] = (uint16_t)v;
    }
    return 0;
}

static void add_num(cJSON *o, const char *k, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

static int run_eval(const sm_args *a) {
    sm_error err = {0};
    const char *pred_path = a->positional[0], *gt_path = a->positional[1];
    const char *tp = sm_args_get(a, "tracks-pred"), *tg = sm_args_get(a, "tracks-gt");
    if (!tp != !tg) return sm_cli_usage_error("eval", "--tracks-pred and --tracks-gt go together");
    sm_seg_params sp;
    sm_seg_params_default(&sp);
    const char *match = sm_args_get(a, "match");
    if (match) {
        if (strcmp(match, "id") == 0) sp.match = SM_MATCH_ID;
        else if (strcmp(match, "optimal") == 0) sp.match = SM_MATCH_OPTIMAL;
        else return sm_cli_usage_error("eval", "--match must be 'id' or 'optimal'");
    }
    double radius = 5, threshold = 0.5;
    if (sm_args_double(a, "bound", 1e-6, 1e4, &sp.bound_th) || sm_args_double(a, "radius", 1e-6, 1e6, &radius) ||
        sm_args_double(a, "threshold", 1e-6, 1, &threshold))
        return 1;

    sm_video *pv = NULL, *gv = NULL;
    sm_seg_eval *se = NULL;
    sm_mot *mot = NULL;
    sm_tracks *ta = NULL, *tb = NULL;
    float *plane = NULL;
    uint16_t *pl = NULL, *gl = NULL;
    sm_seg_scores ss = {0};
    sm_mot_scores ms;
    cJSON *root = NULL;
    int rc;
    if ((rc = sm_video_open(&pv, pred_path, &err)) < 0 || (rc = sm_video_open(&gv, gt_path, &err)) < 0) goto done;
    const sm_video_info *pi = sm_video_get_info(pv), *gi = sm_video_get_info(gv);
    if (pi->width != gi->width || pi->height != gi->height || pi->frames != gi->frames) {
        rc = sm_error_set(&err, SM_EINVAL, "%s (%dx%d px, %lld frames) and %s (%dx%d px, %lld frames) differ in size",
                          pred_path, pi->width, pi->height, (long long)pi->frames, gt_path, gi->width, gi->height,
                          (long long)gi->frames);
        goto done;
    }
    size_t n = (size_t)pi->width * (size_t)pi->height;
    plane = malloc(n * sizeof *plane);
    pl = malloc(n * sizeof *pl);
    gl = malloc(n * sizeof *gl);
    mot = sm_mot_create();
    se = sm_seg_eval_create(&sp, &err);
    if (!se) {
        rc = err.code;
        goto done;
    }
    if (!plane || !pl || !gl || !mot) {
        rc = sm_error_set(&err, SM_ENOMEM, "out of memory");
        goto done;
    }
    for (int64_t f = 0; f < pi->frames; f++) {
        if ((rc = sm_video_read_frame(pv, f, plane, &err)) < 0 || (rc = to_labels(plane, pl, n, pred_path, f, &err)) < 0 ||
            (rc = sm_video_read_frame(gv, f, plane, &err)) < 0 || (rc = to_labels(plane, gl, n, gt_path, f, &err)) < 0)
            goto done;
        if ((rc = sm_seg_eval_add_frame(se, f, pl, gl, pi->width, pi->height, tp ? NULL : mot, &err)) < 0) goto done;
    }
    if (tp) {
        if ((rc = sm_tracks_read_csv(&ta, tp, &err)) < 0 || (rc = sm_tracks_read_csv(&tb, tg, &err)) < 0) goto done;
        if ((rc = sm_mot_add_points(mot, tb, ta, radius, &err)) < 0) goto done;
    }
    if ((rc = sm_seg_eval_finish(se, &ss, &err)) < 0) goto done;
    if ((rc = sm_mot_compute(mot, threshold, &ms, &err)) < 0) goto done;

    printf("segmentation (%lld frames, %lld truth and %lld predicted objects, %lld pairs, %s matching)\n",
           (long long)ss.frames, (long long)ss.n_gt, (long long)ss.n_pred, (long long)ss.n_pairs,
           sp.match == SM_MATCH_ID ? "id" : "optimal");
    printf("  IoU (J) mean         %.4f\n  Dice mean            %.4f\n  boundary F mean      %.4f\n"
           "  J&F mean             %.4f\n  CTC SEG              %.4f\n",
           ss.iou_mean, ss.dice_mean, ss.f_mean, ss.jf_mean, ss.ctc_seg);
    printf("  centroid error px    median %.4g  mean %.4g  RMSE %.4g  p95 %.4g\n", ss.centroid_err_median,
           ss.centroid_err_mean, ss.centroid_err_rmse, ss.centroid_err_p95);
    printf("tracking (%s; %lld truth and %lld predicted ids)\n",
           tp ? "point tracks" : "label ids as tracks, mask IoU", (long long)ms.num_gt_ids, (long long)ms.num_pred_ids);
    printf("  MOTA                 %.4f   (TP %lld, FN %lld, FP %lld)\n  MOTP                 %.4f\n"
           "  ID switches          %lld\n  fragmentations       %lld\n  IDF1                 %.4f   (IDP %.4f, IDR %.4f)\n"
           "  HOTA                 %.4f   (DetA %.4f, AssA %.4f, LocA %.4f)\n",
           ms.mota, (long long)ms.tp, (long long)ms.fn, (long long)ms.fp, ms.motp, (long long)ms.id_switches,
           (long long)ms.fragmentations, ms.idf1, ms.idp, ms.idr, ms.hota, ms.deta, ms.assa, ms.loca);

    const char *objects = sm_args_get(a, "objects");
    if (objects && (rc = sm_seg_objects_write_csv(&ss, objects, &err)) < 0) goto done;
    const char *json = sm_args_get(a, "json");
    if (json) {
        root = cJSON_CreateObject();
        if (!root) {
            rc = sm_error_set(&err, SM_ENOMEM, "out of memory");
            goto done;
        }
        add_num(root, "iou_mean", ss.iou_mean);
        add_num(root, "dice_mean", ss.dice_mean);
        add_num(root, "f_mean", ss.f_mean);
        add_num(root, "jf_mean", ss.jf_mean);
        add_num(root, "ctc_seg", ss.ctc_seg);
        add_num(root, "centroid_err_median", ss.centroid_err_median);
        add_num(root, "centroid_err_mean", ss.centroid_err_mean);
        add_num(root, "centroid_err_rmse", ss.centroid_err_rmse);
        add_num(root, "centroid_err_p95", ss.centroid_err_p95);
        add_num(root, "objects_gt", (double)ss.n_gt);
        add_num(root, "objects_pred", (double)ss.n_pred);
        add_num(root, "objects_paired", (double)ss.n_pairs);
        add_num(root, "id_switches", (double)ms.id_switches);
        add_num(root, "fragmentations", (double)ms.fragmentations);
        add_num(root, "mota", ms.mota);
        add_num(root, "motp", ms.motp);
        add_num(root, "tp", (double)ms.tp);
        add_num(root, "fn", (double)ms.fn);
        add_num(root, "fp", (double)ms.fp);
        add_num(root, "idf1", ms.idf1);
        add_num(root, "idp", ms.idp);
        add_num(root, "idr", ms.idr);
        add_num(root, "hota", ms.hota);
        add_num(root, "deta", ms.deta);
        add_num(root, "assa", ms.assa);
        add_num(root, "loca", ms.loca);
        add_num(root, "gt_ids", (double)ms.num_gt_ids);
        add_num(root, "pred_ids", (double)ms.num_pred_ids);
        cJSON *ha = cJSON_AddArrayToObject(root, "hota_alpha");
        cJSON *da = cJSON_AddArrayToObject(root, "deta_alpha");
        cJSON *aa = cJSON_AddArrayToObject(root, "assa_alpha");
        for (int k = 0; k < SM_HOTA_ALPHAS && ha && da && aa; k++) {
            cJSON_AddItemToArray(ha, cJSON_CreateNumber(ms.hota_alpha[k]));
            cJSON_AddItemToArray(da, cJSON_CreateNumber(ms.deta_alpha[k]));
            cJSON_AddItemToArray(aa, cJSON_CreateNumber(ms.assa_alpha[k]));
        }
        cJSON_AddStringToObject(root, "matching", sp.match == SM_MATCH_ID ? "id" : "optimal");
        cJSON_AddStringToObject(root, "tracking_source", tp ? "points" : "masks");
        if ((rc = sm_json_write_file(json, root, &err)) < 0) goto done;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    sm_seg_scores_free(&ss);
    sm_seg_eval_destroy(se);
    sm_mot_destroy(mot);
    sm_tracks_destroy(ta);
    sm_tracks_destroy(tb);
    free(plane); free(pl); free(gl);
    sm_video_close(pv);
    sm_video_close(gv);
    return rc < 0 ? sm_cli_fail(&err) : 0;
}

const sm_command sm_cmd_eval = {
    .name = "eval",
    .summary = "score predicted label masks (and tracks) against ground truth: IoU, J&F, MOTA, IDF1, HOTA",
    .usage = "samem eval PRED GT [--tracks-pred A.csv --tracks-gt B.csv] [--json FILE]",
    .description =
        "PRED and GT are label stacks of the same size (TIFF or PNG folders; 0 background). Objects are paired\n"
        "per frame by optimal assignment on IoU (or by label with --match id) and scored per object and frame:\n"
        "IoU, Dice, DAVIS boundary F (tolerance 0.008 of the diagonal, or --bound PX), J&F, centroid error, CTC\n"
        "SEG. Tracking (MOTA, MOTP, ID switches, fragmentations, IDF1, HOTA as TrackEval defines them) uses the\n"
        "label values as track ids with mask IoU, or the point tables of --tracks-pred/--tracks-gt with the\n"
        "similarity 1 - d/(2 R) (R = --radius, a match at the 0.5 threshold means d <= R px).\n"
        "example: samem eval masks.tif truth.tif --json scores.json",
    .min_positional = 2,
    .max_positional = 2,
    .options = (const sm_option_spec[]){
        {"tracks-pred", "CSV", "predicted point tracks (frame,particle,x,y)"},
        {"tracks-gt", "CSV", "truth point tracks"},
        {"json", "FILE", "write the scores as JSON"},
        {"objects", "FILE", "write per-object rows (frame,gt,pred,iou,dice,f,jf,centroid_err) as CSV"},
        {"match", "MODE", "optimal (default) or id"},
        {"bound", "T", "boundary tolerance: < 1 a fraction of the diagonal, >= 1 px (default 0.008)"},
        {"radius", "PX", "point tracks: distance counted as a match (default 5)"},
        {"threshold", "S", "similarity threshold of MOTA and IDF1 (default 0.5)"},
        {NULL, NULL, NULL}},
    .run = run_eval,
};
