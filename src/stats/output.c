/* stats.json and msd.csv: the files a scientist reads or loads into pandas.
 *
 * stats.json: units, ensemble estimates (each with se and a 95% interval = +-1.96 se), per-track estimates,
 * van Hove summaries (pooled; per track as vh_* arrays, one entry per lag in options.vh_lags), VACF, ergodicity breaking, warnings (counts of what was dropped or could not be fitted)
 * and the options used. NaN (not estimable) is written as null.
 * msd.csv (long format): particle,kind,lag_frames,lag_time,msd,se,n_displacements,n_tracks,reliable; the
 * ensemble curves have particle -1 and kind ea_ta (ensemble-averaged TA-MSD), ea (from each track's first
 * frame) or angular (rad^2); per-track rows (kind ta) stop at a tenth of the track's span (at least 10
 * lags), the range the fits use: beyond it a TA-MSD rests on few independent displacements, and 10,000
 * tracks of 1,000 frames would otherwise make a 100 MB file. stats.json/sm_stats keep every lag.
 * Leaves out: HDF5/Parquet outputs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

#include "stats/stats_impl.h"

static void add_num(cJSON *o, const char *k, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

static void add_ci(cJSON *o, const char *k, double v, double se) {
    cJSON *a = cJSON_AddArrayToObject(o, k);
    if (isfinite(v) && isfinite(se)) {
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v - 1.96 * se));
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v + 1.96 * se));
    } else {
        cJSON_AddItemToArray(a, cJSON_CreateNull());
        cJSON_AddItemToArray(a, cJSON_CreateNull());
    }
}

static cJSON *num_array(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, isfinite(v[i]) ? cJSON_CreateNumber(v[i]) : cJSON_CreateNull());
    return a;
}

static void add_fit(cJSON *o, const sm_stats_fit *f) {
    add_num(o, "D", f->D);
    add_ci(o, "D_ci", f->D, f->D_se);
    add_num(o, "D_se", f->D_se);
    add_num(o, "D_ols", f->D_ols);
    add_ci(o, "D_ols_ci", f->D_ols, f->D_ols_se);
    add_num(o, "alpha", f->alpha);
    add_ci(o, "alpha_ci", f->alpha, f->alpha_se);
    add_num(o, "K_alpha", f->K_alpha);
    add_ci(o, "K_alpha_ci", f->K_alpha, f->K_alpha_se);
    add_num(o, "sigma_loc", f->sigma);
    add_ci(o, "sigma_loc_ci", f->sigma, f->sigma_se);
    add_num(o, "D_cve", f->D_cve);
    add_ci(o, "D_cve_ci", f->D_cve, f->D_cve_se);
    add_num(o, "sigma_cve", f->sigma_cve);
    cJSON_AddStringToObject(o, "class", sm_stats_class_name(f->cls));
    cJSON_AddNumberToObject(o, "p_D", f->p_D);
    cJSON_AddNumberToObject(o, "p_sigma", f->p_sigma);
    cJSON_AddNumberToObject(o, "p_alpha", f->p_alpha);
    add_num(o, "reduced_x", f->reduced_x);
}

int sm_stats_write_json(const sm_stats *s, const char *path, sm_error *err) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    const char *L = s->len_unit, *T = s->time_unit;
    char buf[128];

    cJSON *u = cJSON_AddObjectToObject(root, "units");
    cJSON_AddStringToObject(u, "length", L);
    cJSON_AddStringToObject(u, "time", T);
    add_num(u, "px_nm", s->opt.px_nm > 0 ? s->opt.px_nm : NAN);
    add_num(u, "dt_s", s->opt.dt_s > 0 ? s->opt.dt_s : NAN);
    snprintf(buf, sizeof buf, "%s^2/%s", L, T);
    cJSON_AddStringToObject(u, "D", buf);
    snprintf(buf, sizeof buf, "%s^2/%s^alpha", L, T);
    cJSON_AddStringToObject(u, "K_alpha", buf);
    cJSON_AddStringToObject(u, "sigma_loc", L);
    snprintf(buf, sizeof buf, "%s/%s", L, T);
    cJSON_AddStringToObject(u, "drift", buf);
    snprintf(buf, sizeof buf, "rad^2/%s", T);
    cJSON_AddStringToObject(u, "D_r", buf);
    cJSON_AddStringToObject(u, "intervals", "95% (estimate +- 1.96 se)");
    if (!(s->opt.px_nm > 0) || !(s->opt.dt_s > 0))
        cJSON_AddStringToObject(u, "note", "pixel size and/or frame interval unknown: lengths in px and/or times in frames "
                                           "(give --px NM and --dt S)");

    cJSON *e = cJSON_AddObjectToObject(root, "ensemble");
    add_fit(e, &s->ens.fit);
    cJSON *d = cJSON_AddObjectToObject(e, "drift");
    add_num(d, "vx", s->ens.drift_x);
    add_num(d, "vy", s->ens.drift_y);
    add_num(d, "vx_se", s->ens.drift_x_se);
    add_num(d, "vy_se", s->ens.drift_y_se);
    cJSON_AddBoolToObject(d, "subtracted", s->ens.drift_subtracted);
    add_num(e, "D_r", s->ens.D_r);
    add_ci(e, "D_r_ci", s->ens.D_r, s->ens.D_r_se);
    cJSON_AddNumberToObject(e, "tracks", (double)s->n_tracks);
    cJSON_AddNumberToObject(e, "tracks_fitted", s->ens.tracks_fitted);
    cJSON_AddNumberToObject(e, "blur_R", s->opt.blur_R);
    cJSON_AddStringToObject(e, "se_method", s->eatamsd.n > 1 && s->eatamsd.n_tracks[1] >= 10
                                                ? "jackknife over 10 groups of tracks (D, sigma_loc, alpha, K_alpha); "
                                                  "Vestergaard 2014 eq. for D_cve"
                                                : "model covariance (GLS) and Gauss-Newton; Vestergaard 2014 for D_cve");

    cJSON *ta = cJSON_AddArrayToObject(root, "tracks");
    for (int64_t i = 0; i < s->n_tracks; i++) {
        const sm_track_stats *t = &s->tracks[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "particle", (double)t->particle);
        cJSON_AddNumberToObject(o, "n", (double)t->n);
        cJSON_AddNumberToObject(o, "first_frame", (double)t->first_frame);
        cJSON_AddNumberToObject(o, "last_frame", (double)t->last_frame);
        cJSON_AddNumberToObject(o, "missing_frames", (double)t->missing_frames);
        add_fit(o, &t->fit);
        add_num(o, "D_r", t->D_r);
        add_ci(o, "D_r_ci", t->D_r, t->D_r_se);
        add_num(o, "sigma_theta", t->sigma_theta);
        cJSON_AddItemToObject(o, "vh_mean_x", num_array(t->vh_mean_x, s->n_vh));
        cJSON_AddItemToObject(o, "vh_sd_x", num_array(t->vh_sd_x, s->n_vh));
        cJSON_AddItemToObject(o, "vh_mean_y", num_array(t->vh_mean_y, s->n_vh));
        cJSON_AddItemToObject(o, "vh_sd_y", num_array(t->vh_sd_y, s->n_vh));
        cJSON_AddItemToObject(o, "ngp", num_array(t->ngp, s->n_vh));
        cJSON_AddItemToArray(ta, o);
    }

    cJSON *vh = cJSON_AddArrayToObject(root, "van_hove");
    for (int j = 0; j < s->n_vh; j++) {
        const sm_stats_vanhove *v = &s->vh[j];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "lag_frames", v->lag);
        cJSON_AddNumberToObject(o, "lag_time", v->lag * s->time_scale);
        cJSON_AddNumberToObject(o, "n", (double)v->n);
        add_num(o, "mean_x", v->mean_x);
        add_num(o, "sd_x", v->sd_x);
        add_num(o, "mean_y", v->mean_y);
        add_num(o, "sd_y", v->sd_y);
        add_num(o, "sd_r", v->sd_r);
        add_num(o, "ngp", v->ngp);
        add_num(o, "ngp_se", v->ngp_se);
        cJSON_AddItemToArray(vh, o);
    }

    cJSON *va = cJSON_AddObjectToObject(root, "vacf");
    {
        double lag[4096];
        int n = s->vacf.n < 4096 ? s->vacf.n : 4096;
        for (int k = 0; k < n; k++) lag[k] = k;
        cJSON_AddItemToObject(va, "lag_frames", num_array(lag, n));
        cJSON_AddItemToObject(va, "value", num_array(s->vacf.value, n));
        cJSON_AddItemToObject(va, "se", num_array(s->vacf.se, n));
        cJSON_AddItemToObject(va, "fbm_expected", num_array(s->vacf_fbm, n));
        add_num(va, "noise_lag1_expected", s->vacf_noise_lag1);
        add_num(va, "alpha_used", isfinite(s->ens.fit.alpha) ? s->ens.fit.alpha : 1.0);
    }

    cJSON *eb = cJSON_AddObjectToObject(root, "ergodicity");
    {
        double lag[64], v[64], b[64], n[64];
        int m = 0;
        for (int k = 1; k < s->eb.n && m < 64; k = k < 8 ? k + 1 : (int)(k * 1.25)) {
            if (!s->eb.reliable[k]) break;
            lag[m] = k;
            v[m] = s->eb.value[k];
            b[m] = s->eb_brownian[k];
            n[m] = (double)s->eb.n_tracks[k];
            m++;
        }
        cJSON_AddItemToObject(eb, "lag_frames", num_array(lag, m));
        cJSON_AddItemToObject(eb, "EB", num_array(v, m));
        cJSON_AddItemToObject(eb, "EB_brownian", num_array(b, m));
        cJSON_AddItemToObject(eb, "n_tracks", num_array(n, m));
    }

    cJSON *w = cJSON_AddObjectToObject(root, "warnings");
    const sm_stats_warnings *sw = &s->warn;
    cJSON_AddNumberToObject(w, "rows", (double)sw->rows);
    cJSON_AddNumberToObject(w, "nan_rows", (double)sw->nan_rows);
    cJSON_AddNumberToObject(w, "hidden_rows", (double)sw->hidden_rows);
    cJSON_AddNumberToObject(w, "duplicate_frames", (double)sw->duplicate_frames);
    cJSON_AddNumberToObject(w, "single_point_tracks", (double)sw->single_point_tracks);
    cJSON_AddNumberToObject(w, "short_tracks", (double)sw->short_tracks);
    cJSON_AddNumberToObject(w, "tracks_with_gaps", (double)sw->tracks_with_gaps);
    cJSON_AddNumberToObject(w, "missing_frames", (double)sw->missing_frames);
    cJSON_AddNumberToObject(w, "first_unreliable_lag", sw->first_unreliable_lag);
    cJSON *msgs = cJSON_AddArrayToObject(w, "messages");
    char m[256];
#define MSG(cond, ...)                                                                                                 \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            snprintf(m, sizeof m, __VA_ARGS__);                                                                        \
            cJSON_AddItemToArray(msgs, cJSON_CreateString(m));                                                         \
        }                                                                                                              \
    } while (0)
    MSG(sw->nan_rows, "%lld rows without a finite position were dropped", (long long)sw->nan_rows);
    MSG(sw->hidden_rows, "%lld rows marked visible=0 (outside the field) were dropped", (long long)sw->hidden_rows);
    MSG(sw->duplicate_frames, "%lld repeated (particle, frame) rows were dropped (the first was kept)",
        (long long)sw->duplicate_frames);
    MSG(sw->single_point_tracks, "%lld tracks have a single point (no displacement)", (long long)sw->single_point_tracks);
    MSG(sw->short_tracks, "%lld tracks have 2 to %d points: in ensemble curves, not fitted", (long long)sw->short_tracks,
        SM_STATS_MIN_FIT_POINTS - 1);
    MSG(sw->tracks_with_gaps, "%lld tracks have gaps (%lld missing frames); lags use frame numbers",
        (long long)sw->tracks_with_gaps, (long long)sw->missing_frames);
    MSG(sw->first_unreliable_lag > 0, "ensemble curves are marked unreliable from lag %d frames on (too few tracks)",
        sw->first_unreliable_lag);
    MSG(s->ens.tracks_fitted == 0, "no track long enough for a per-track fit (%d points)", SM_STATS_MIN_FIT_POINTS);
    MSG(!isfinite(s->ens.fit.D), "the ensemble MSD could not be fitted");
#undef MSG

    cJSON *op = cJSON_AddObjectToObject(root, "options");
    cJSON_AddNumberToObject(op, "blur_R", s->opt.blur_R);
    cJSON_AddBoolToObject(op, "drift_subtract", s->opt.drift_subtract);
    double lags[SM_STATS_MAX_VH_LAGS];
    for (int j = 0; j < s->opt.n_vh_lags; j++) lags[j] = s->opt.vh_lags[j];
    cJSON_AddItemToObject(op, "vh_lags", num_array(lags, s->opt.n_vh_lags));
    cJSON_AddNumberToObject(op, "min_tracks", s->opt.min_tracks);
    cJSON_AddNumberToObject(op, "min_track_fraction", s->opt.min_track_fraction);

    int rc = sm_json_write_file(path, root, err);
    cJSON_Delete(root);
    return rc;
}

static void csv_row(FILE *fp, int64_t particle, const char *kind, int lag, double time, double msd, double se,
                    int64_t nd, int64_t nt, int rel) {
    fprintf(fp, "%lld,%s,%d,", (long long)particle, kind, lag);
    sm_csv_write_double(fp, time);
    fputc(',', fp);
    sm_csv_write_double(fp, msd);
    fputc(',', fp);
    sm_csv_write_double(fp, se);
    fprintf(fp, ",%lld,%lld,%d\n", (long long)nd, (long long)nt, rel);
}

int sm_stats_write_msd_csv(const sm_stats *s, const char *path, sm_error *err) {
    sm_atomic_file f;
    int rc = sm_atomic_open(&f, path, err);
    if (rc < 0) return rc;
    FILE *fp = f.fp;
    fputs("particle,kind,lag_frames,lag_time,msd,se,n_displacements,n_tracks,reliable\n", fp);
    const sm_stats_curve *cs[3] = {&s->eatamsd, &s->eamsd, &s->eaamsd};
    const char *names[3] = {"ea_ta", "ea", "angular"};
    for (int c = 0; c < 3; c++)
        for (int k = 1; k < cs[c]->n; k++) {
            if (cs[c]->n_tracks[k] <= 0) continue;
            csv_row(fp, -1, names[c], k, k * s->time_scale, cs[c]->value[k], cs[c]->se[k], cs[c]->n_disp[k],
                    cs[c]->n_tracks[k], cs[c]->reliable[k]);
        }
    for (int64_t i = 0; i < s->n_tracks; i++) {
        const sm_track_stats *t = &s->tracks[i];
        int kmax = t->n_lags / 10 > 10 ? t->n_lags / 10 : 10;
        if (kmax > t->n_lags) kmax = t->n_lags;
        for (int k = 1; k <= kmax; k++) {
            if (t->msd_count[k] <= 0) continue;
            csv_row(fp, t->particle, "ta", k, k * s->time_scale, t->msd[k], NAN, t->msd_count[k], 1, 1);
        }
    }
    return sm_atomic_commit(&f, err);
}
