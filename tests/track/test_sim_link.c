/* Tracking on the simulator's ground truth (include/samem/sim.h): a "medium" preset clip of Brownian spheres
 * with hard-core contacts and no long jumps. The truth label planes are measured and linked with no
 * identities, then scored against the simulator's truth tracks: no ID switch while the largest step stays under
 * half the smallest distance between visible particles (checked on the truth; the simulator's domain is
 * periodic, so wrap-arounds are not steps), MOTA = 1 on interior particles'
 * detections, and mask centroids within 0.25 px (median) of the truth positions for particles inside the field. */
#include <math.h>
#include <stdlib.h>

#include "samem/metrics.h"
#include "samem/sim.h"
#include "samem/track.h"
#include "test.h"

#define S 192
#define NF 30

int main(void) {
    sm_error err = {0};
    sm_sim_config cfg;
    int rc = sm_sim_config_preset(&cfg, "medium", &err);
    cfg.width = cfg.height = S;
    cfg.frames = NF;
    cfg.n_particles = 8;
    cfg.shape = SM_SIM_SPHERE;
    cfg.size_min_px = 10;
    cfg.size_max_px = 14;
    cfg.motion = SM_SIM_BROWNIAN;
    /* 1 px std per axis and frame: D = px^2 / (2 dt) */
    cfg.D_min_nm2_s = cfg.D_max_nm2_s = cfg.pixel_size_nm * cfg.pixel_size_nm / (2 * cfg.frame_interval_s);
    cfg.jump_rate = 0;
    cfg.contacts = 1;
    cfg.aggregation_prob = 0;
    cfg.drift_nm_per_s = 0;
    cfg.exposure_fraction = 0;
    float *frames = malloc(sizeof(float) * NF * S * S);
    uint16_t *labels = malloc(sizeof(uint16_t) * NF * S * S);
    sm_tracks *truth = sm_tracks_create(), *det = sm_tracks_create();
    if (rc == 0) rc = sm_sim_clip(&cfg, 11, NF, frames, labels, truth, &err);
    SM_CHECKF("simulated clip", rc == 0, "%s", err.msg);
    if (rc) return sm_test_report();

    /* measure the truth label planes */
    for (int f = 0; f < NF; f++) {
        sm_track_object *o;
        int n;
        rc |= sm_track_measure(labels + (size_t)f * S * S, frames + (size_t)f * S * S, S, S, &o, &n, &err);
        for (int k = 0; k < n; k++) {
            sm_tracks_row r = sm_tracks_row_empty();
            r.frame = f;
            r.particle = -1;
            r.x = o[k].x_geom;
            r.y = o[k].y_geom;
            r.area = o[k].area;
            r.eccentricity = o[k].eccentricity;
            r.border = o[k].border;
            r.score = o[k].label;   /* truth id, for the centroid check */
            sm_tracks_append(det, &r, &err);
        }
        free(o);
    }
    SM_CHECK("measured every frame", rc == 0 && det->n > 0);

    /* precondition from the truth: largest step vs smallest separation */
    double max_step = 0, min_sep = INFINITY;
    sm_tracks_sort(truth, &err);
    for (int64_t i = 1; i < truth->n; i++)
        if (truth->particle[i] == truth->particle[i - 1] && truth->frame[i] == truth->frame[i - 1] + 1 &&
            truth->visible[i] != 0 && truth->visible[i - 1] != 0) {
            double s = hypot(truth->x[i] - truth->x[i - 1], truth->y[i] - truth->y[i - 1]);
            if (s < S / 2 && s > max_step) max_step = s;   /* the domain is periodic: skip wrap-arounds */
        }
    for (int64_t i = 0; i < truth->n; i++)
        for (int64_t j = i + 1; j < truth->n; j++)
            if (truth->frame[i] == truth->frame[j] && truth->visible[i] != 0 && truth->visible[j] != 0) {
                double d = hypot(truth->x[i] - truth->x[j], truth->y[i] - truth->y[j]);
                if (d < min_sep) min_sep = d;
            }
    SM_CHECKF("truth: largest step < half the smallest separation", max_step < min_sep / 2, "step=%.2f sep=%.2f",
              max_step, min_sep);

    sm_link_params p;
    sm_link_params_default(&p);
    p.max_disp = 8;
    rc = sm_track_link(det, &p, NULL, &err);
    /* score interior detections (not touching the border) against visible truth rows */
    sm_tracks *gt = sm_tracks_create(), *pr = sm_tracks_create();
    for (int64_t i = 0; i < truth->n; i++) {
        sm_tracks_row r = sm_tracks_get(truth, i);
        if (r.visible != 0 && r.x > 12 && r.y > 12 && r.x < S - 13 && r.y < S - 13) sm_tracks_append(gt, &r, &err);
    }
    for (int64_t i = 0; i < det->n; i++) {
        sm_tracks_row r = sm_tracks_get(det, i);
        if (r.x > 12 && r.y > 12 && r.x < S - 13 && r.y < S - 13) sm_tracks_append(pr, &r, &err);
    }
    sm_mot *m = sm_mot_create();
    rc |= sm_mot_add_points(m, gt, pr, 2, &err);
    sm_mot_scores s;
    rc |= sm_mot_compute(m, 0.5, &s, &err);
    SM_CHECKF("linked truth masks: 0 ID switches, MOTA 1 on interior particles", rc == 0 && s.id_switches == 0 &&
              s.mota > 0.999 && s.tp > 0, "rc=%d idsw=%lld mota=%g tp=%lld fn=%lld fp=%lld %s", rc,
              (long long)s.id_switches, s.mota, (long long)s.tp, (long long)s.fn, (long long)s.fp, err.msg);
    sm_mot_destroy(m);

    /* centroid of each interior mask vs the truth position of the same id */
    double *e = malloc(sizeof(double) * (size_t)(det->n + 1));
    int ne = 0;
    for (int64_t i = 0; i < pr->n; i++)
        for (int64_t j = 0; j < truth->n; j++)
            if (truth->frame[j] == pr->frame[i] && truth->particle[j] == (int64_t)pr->score[i])
                e[ne++] = hypot(truth->x[j] - pr->x[i], truth->y[j] - pr->y[i]);
    int below = 0;
    for (int i = 0; i < ne; i++) below += e[i] < 0.25;
    SM_CHECKF("mask centroids: more than half within 0.25 px of the truth position", ne > 0 && 2 * below > ne,
              "%d of %d", below, ne);
    free(e);
    sm_tracks_destroy(gt);
    sm_tracks_destroy(pr);
    sm_tracks_destroy(truth);
    sm_tracks_destroy(det);
    free(frames);
    free(labels);
    return sm_test_report();
}
