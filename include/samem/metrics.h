/* samem metrics: how right a segmentation and a tracking are, against ground truth.
 *
 * Usage (label stacks, as `samem eval` does):
 *     sm_seg_params sp;  sm_seg_params_default(&sp);          // optimal matching, DAVIS boundary tolerance
 *     sm_seg_eval *se = sm_seg_eval_create(&sp, &err);
 *     sm_mot *mot = sm_mot_create();
 *     for each frame f:  sm_seg_eval_add_frame(se, f, pred_plane, gt_plane, w, h, mot, &err);  // mot may be NULL
 *     sm_seg_scores s;   sm_seg_eval_finish(se, &s, &err);     // s.iou_mean, s.jf_mean, s.objects[] ...
 *     sm_mot_scores m;   sm_mot_compute(mot, 0.5, &m, &err);   // m.mota, m.idf1, m.hota ...
 *     sm_seg_scores_free(&s); sm_seg_eval_destroy(se); sm_mot_destroy(mot);
 * Point tracks (CSV tables) go through sm_mot_add_points instead.
 *
 * Segmentation (per object and frame). Objects of prediction and truth are paired in each frame either by
 * label value (SM_MATCH_ID) or by the assignment that maximises the summed IoU over overlapping pairs
 * (SM_MATCH_OPTIMAL, Hungarian-equivalent exact solver). Every pair, every unpaired truth object (a miss)
 * and every unpaired predicted object (a false positive) is one scored row; misses and false positives
 * score 0 on every measure. Means are over the rows; with no row at all (both empty) they are 1, as DAVIS
 * scores an empty prediction of an empty object.
 *   IoU = |P n G| / |P u G|          Dice = 2 |P n G| / (|P| + |G|)
 *   F   = boundary F measure of DAVIS (Perazzi et al. 2016): boundary pixels are object pixels with a
 *         4-neighbour outside the object or on the image edge; a boundary pixel is matched when the other
 *         boundary lies within the tolerance (a disk of radius ceil(bound_th * image diagonal) px when
 *         bound_th < 1, else bound_th px; default 0.008 as in DAVIS); F = 2PR/(P+R), 1 when both boundaries
 *         are empty.      J&F = (IoU + F) / 2.
 *   Centroid error: distance between the centroids of paired objects (px); median, mean, RMSE and 95th
 *         percentile (linear interpolation between order statistics, numpy's default); NaN with no pair.
 *   CTC SEG (Cell Tracking Challenge, Ulman et al. 2017): for each truth object, the IoU with the predicted
 *         object covering more than half of it, else 0; mean over truth objects; NaN with none.
 *
 * Tracking, as TrackEval (Luiten et al.) defines them, on per-frame similarities between truth and predicted
 * detections (mask IoU for label stacks, where labels are the track ids; for points 1 - d / (2 r), so that
 * the threshold 0.5 means a distance of at most r px):
 *   CLEAR: per frame, matches continuing the previous frame's matches first, then the largest total
 *          similarity, pairs with similarity >= threshold; MOTA = (TP - FP - IDSW) / max(1, TP + FN),
 *          MOTP = mean similarity of matches, IDSW when a truth id is matched to a tracker id other than its
 *          last one, Frag = times a truth track's tracking restarts after an interruption. As in TrackEval,
 *          frames with no truth or no prediction only count FP or FN (they do not interrupt a track).
 *   Identity: the one-to-one truth-to-tracker id assignment maximising the number of frames matched
 *          (similarity >= threshold); IDF1 = IDTP / (IDTP + (IDFP + IDFN) / 2).
 *   HOTA: for alpha = 0.05, 0.10, ... 0.95, per frame assignment maximising similarity times the global
 *          alignment score, matches with similarity >= alpha; DetA = TP / (TP + FN + FP), AssA = mean over
 *          TPs of TPA / (TPA + FNA + FPA), HOTA = sqrt(DetA AssA); reported values are means over alpha.
 * Left out: MT/PT/ML; TrackEval's crowd/distractor preprocessing of particular benchmarks.
 */
#ifndef SAMEM_METRICS_H
#define SAMEM_METRICS_H

#include <stdint.h>
#include "samem/common.h"
#include "samem/tracks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- tracking scores */

#define SM_HOTA_ALPHAS 19

typedef struct sm_mot sm_mot;   /* per-frame similarities, gathered before scoring */

sm_mot *sm_mot_create(void);
void sm_mot_destroy(sm_mot *m);
/* One frame: the ids of its truth and predicted detections (each id at most once per frame) and the
 * non-zero similarities (0..1] of pairs (pair_gt[k], pair_pred[k]) given as indices into gt_ids / pred_ids. */
int sm_mot_add_frame(sm_mot *m, int n_gt, const int64_t *gt_ids, int n_pred, const int64_t *pred_ids, int n_pairs,
                     const int *pair_gt, const int *pair_pred, const double *pair_sim, sm_error *err);
/* Point tracks: frames present in either table, similarity max(0, 1 - d / (2 radius)) (radius in px). Rows whose
 * visible column is 0 (the simulator's truth lists particles outside the field) are left out. */
int sm_mot_add_points(sm_mot *m, const sm_tracks *gt, const sm_tracks *pred, double radius, sm_error *err);

typedef struct sm_mot_scores {
    int64_t num_gt_dets, num_pred_dets, num_gt_ids, num_pred_ids, frames;
    /* CLEAR */
    int64_t tp, fn, fp, id_switches, fragmentations;
    double mota, motp;
    /* Identity */
    int64_t idtp, idfn, idfp;
    double idf1, idp, idr;
    /* HOTA, means over alpha, and per alpha */
    double hota, deta, assa, loca;
    double hota_alpha[SM_HOTA_ALPHAS], deta_alpha[SM_HOTA_ALPHAS], assa_alpha[SM_HOTA_ALPHAS];
} sm_mot_scores;

/* Scores with the CLEAR/Identity similarity threshold (0.5 in TrackEval). */
int sm_mot_compute(const sm_mot *m, double threshold, sm_mot_scores *out, sm_error *err);

/* ---------------------------------------------------------------- segmentation scores */

enum { SM_MATCH_OPTIMAL = 0, SM_MATCH_ID = 1 };

typedef struct sm_seg_params {
    int match;          /* SM_MATCH_OPTIMAL (default) or SM_MATCH_ID */
    double bound_th;    /* boundary tolerance: < 1 a fraction of the image diagonal, >= 1 px (default 0.008) */
} sm_seg_params;

void sm_seg_params_default(sm_seg_params *p);

/* One scored row: a pair, a miss (pred_label 0) or a false positive (gt_label 0). */
typedef struct sm_seg_object {
    int64_t frame;
    int gt_label, pred_label;
    double iou, dice, f, jf;
    double centroid_err;   /* px; NaN unless a pair */
} sm_seg_object;

typedef struct sm_seg_scores {
    int64_t n_rows, n_pairs, n_gt, n_pred, frames;
    double iou_mean, dice_mean, f_mean, jf_mean;
    double centroid_err_median, centroid_err_mean, centroid_err_rmse, centroid_err_p95;
    double ctc_seg;
    sm_seg_object *objects;   /* (n_rows), owned; freed by sm_seg_scores_free */
} sm_seg_scores;

typedef struct sm_seg_eval sm_seg_eval;

sm_seg_eval *sm_seg_eval_create(const sm_seg_params *p, sm_error *err);
void sm_seg_eval_destroy(sm_seg_eval *e);
/* Scores one frame of label planes (width*height uint16, 0 background). When mot is not NULL the frame's
 * labels and their IoUs are also added to it (labels as track ids). */
int sm_seg_eval_add_frame(sm_seg_eval *e, int64_t frame, const uint16_t *pred, const uint16_t *gt, int width,
                          int height, sm_mot *mot, sm_error *err);
int sm_seg_eval_finish(const sm_seg_eval *e, sm_seg_scores *out, sm_error *err);
void sm_seg_scores_free(sm_seg_scores *s);

/* Writes the per-object rows as CSV (frame,gt,pred,iou,dice,f,jf,centroid_err), atomically. */
int sm_seg_objects_write_csv(const sm_seg_scores *s, const char *path, sm_error *err);

#ifdef __cplusplus
}
#endif
#endif
