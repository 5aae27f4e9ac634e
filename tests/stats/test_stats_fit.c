/* Motion statistics on simulated tracks with known parameters (sim_tracks.h), and degenerate inputs.
 *
 * Tolerances (derived from the estimators' theoretical spread, with a >= 3-sigma margin):
 * - Brownian, 100 tracks x 200 steps, D dt = 50 nm^2 and sigma = 7 nm (reduced error x = sigma^2/(D dt) ~ 1),
 *   blur R = 1/6: the CVE's relative se is sqrt((6 + 4 eps + 2 eps^2)/(2 N)) with N = 2e4 steps and
 *   eps = x - 2R ~ 0.65, i.e. 1.6%; the GLS fit is close to it; jackknife se of the ensemble fit ~2%.
 *   Tolerance 5% (the figure) is ~3 se.
 * - sigma_loc: its se from the intercept fit is ~3% here; tolerance 10%.
 * - fBm alpha (ensemble, 100 tracks x 200 steps, lags 1..20): jackknife se ~0.015; tolerance 0.05.
 * - drift: with v dt = (40, -25) nm/frame, 4x the step size, the uncorrected D is biased upwards
 *   by > 20%; subtraction recovers D within 5%; the drift estimate within 4 of its se.
 * - D_r (CVE on unwrapped angles, 1-D, N = 2e4 steps): relative se sqrt((6+4eps+2eps^2)/N) ~ 2.5%; tol 8%.
 *   (Checked over 20 seeds outside the tests: angular EA-TA-MSD / 2 D_r t = 1.008 on average at lag 100.)
 * - VACF lag 1 for Brownian motion with noise: expected -(sigma^2 - 2RDdt)/(2Ddt + 2sigma^2 - 4RDdt) = -0.196;
 *   se ~ 1/sqrt(4e4) = 0.005; tolerance 0.03.
 * - van Hove at lag 1: sd_x^2 = 2Ddt + 2sigma^2 - 4RDdt (= 164.7 nm^2); sd within 3%; NGP of Gaussian steps
 *   is 0 with se ~0.01; tolerance 0.05.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samem/stats.h"
#include "stats/sim_tracks.h"
#include "test.h"

static sim_params base(void) {
    sim_params p = {0};
    p.tracks = 100;
    p.steps = 200;
    p.D = 1000;
    p.dt = 0.05;
    p.sigma = 7;
    p.px_nm = 2;
    p.seed = 42;
    return p;
}

static sm_stats *analyse(const sm_tracks *t, double px, double dt, int drift) {
    sm_stats_options o;
    sm_stats_options_default(&o);
    o.px_nm = px;
    o.dt_s = dt;
    o.drift_subtract = drift;
    sm_stats *s = NULL;
    sm_error err = {0};
    if (sm_stats_compute(&s, t, &o, &err) < 0) printf("error: %s\n", err.msg);
    return s;
}

static double rel(double a, double b) { return fabs(a / b - 1); }

static void test_brownian(void) {
    sim_params p = base();
    sm_tracks *t = sim_brownian(&p);
    sm_stats *s = analyse(t, p.px_nm, p.dt, 0);
    SM_CHECK("Brownian: analysis succeeds", s != NULL);
    if (!s) return;
    const sm_stats_fit *f = &s->ens.fit;
    SM_CHECKF("Brownian: ensemble D (GLS, Michalet lags) within 5%", rel(f->D, p.D) < 0.05, "D=%.1f se=%.1f p=%d", f->D, f->D_se, f->p_D);
    SM_CHECKF("Brownian: ensemble D_ols within 5%", rel(f->D_ols, p.D) < 0.05, "D_ols=%.1f", f->D_ols);
    SM_CHECKF("Brownian: D_ols se is plausible (0.5%..5%)", f->D_ols_se > 0.005 * p.D && f->D_ols_se < 0.05 * p.D, "se=%.2f", f->D_ols_se);
    SM_CHECKF("Brownian: ensemble D_cve within 5%", rel(f->D_cve, p.D) < 0.05, "D_cve=%.1f se=%.1f", f->D_cve, f->D_cve_se);
    SM_CHECKF("Brownian: D se is plausible (0.5%..5%)", f->D_se > 0.005 * p.D && f->D_se < 0.05 * p.D, "se=%.2f", f->D_se);
    SM_CHECKF("Brownian: sigma_loc within 10%", rel(f->sigma, p.sigma) < 0.10, "sigma=%.2f se=%.2f p=%d", f->sigma, f->sigma_se, f->p_sigma);
    SM_CHECKF("Brownian: sigma_cve within 10%", rel(f->sigma_cve, p.sigma) < 0.10, "sigma_cve=%.2f", f->sigma_cve);
    SM_CHECKF("Brownian: alpha within 0.05 of 1", fabs(f->alpha - 1) < 0.05, "alpha=%.3f se=%.3f", f->alpha, f->alpha_se);
    SM_CHECKF("Brownian: classified normal", f->cls == SM_DIFF_NORMAL, "cls=%s", sm_stats_class_name(f->cls));
    /* per-track estimates: their mean is unbiased (mean of 100 estimates, each ~12% se -> 1.2%) */
    double mD = 0, mC = 0;
    int n = 0;
    for (int64_t i = 0; i < s->n_tracks; i++)
        if (isfinite(s->tracks[i].fit.D)) {
            mD += s->tracks[i].fit.D;
            mC += s->tracks[i].fit.D_cve;
            n++;
        }
    SM_CHECKF("Brownian: every track fitted", n == p.tracks, "n=%d", n);
    double msd_x = 0;
    for (int64_t i = 0; i < s->n_tracks; i++) msd_x += s->tracks[i].vh_sd_x[0] * s->tracks[i].vh_sd_x[0] / s->n_tracks;
    SM_CHECKF("Brownian: per-track van Hove sd_x^2 averages to the model within 4%", rel(msd_x, 2 * p.D * p.dt + 2 * p.sigma * p.sigma - 4.0 / 6 * p.D * p.dt) < 0.04,
              "mean sd_x^2=%.1f", msd_x);
    SM_CHECKF("Brownian: mean per-track D within 5%", rel(mD / n, p.D) < 0.05, "mean D=%.1f", mD / n);
    SM_CHECKF("Brownian: mean per-track D_cve within 5%", rel(mC / n, p.D) < 0.05, "mean D_cve=%.1f", mC / n);
    /* per-track 95% intervals cover the truth about 95% of the time (binomial sd 2.2%: accept 85..100) */
    int cover = 0;
    for (int64_t i = 0; i < s->n_tracks; i++) {
        const sm_stats_fit *tf = &s->tracks[i].fit;
        if (fabs(tf->D - p.D) < 1.96 * tf->D_se) cover++;
    }
    SM_CHECKF("Brownian: per-track D intervals cover the truth in >= 85% of tracks", cover >= 85, "cover=%d/100", cover);
    /* EA-TA-MSD lag 1 = 4 D dt + 4 (sigma^2 - 2 R D dt) */
    double e1 = 4 * p.D * p.dt + 4 * (p.sigma * p.sigma - 2.0 / 6 * p.D * p.dt);
    SM_CHECKF("Brownian: EA-TA-MSD(1) matches the model within 3%", rel(s->eatamsd.value[1], e1) < 0.03,
              "msd1=%.1f expected %.1f", s->eatamsd.value[1], e1);
    SM_CHECKF("Brownian: EA-MSD(10) matches the model within 10%",
              rel(s->eamsd.value[10], 40 * p.D * p.dt + 4 * p.sigma * p.sigma - 8.0 / 6 * p.D * p.dt) < 0.10,
              "eamsd10=%.1f", s->eamsd.value[10]);
    double v1 = -(p.sigma * p.sigma - 2.0 / 6 * p.D * p.dt) / (2 * p.D * p.dt + 2 * p.sigma * p.sigma - 4.0 / 6 * p.D * p.dt);
    SM_CHECKF("Brownian: VACF lag 1 matches the noise expectation within 0.03", fabs(s->vacf.value[1] - v1) < 0.03,
              "vacf1=%.3f expected %.3f (from fit %.3f)", s->vacf.value[1], v1, s->vacf_noise_lag1);
    SM_CHECKF("Brownian: VACF lag 0 is 1", fabs(s->vacf.value[0] - 1) < 1e-12, "%.3g", s->vacf.value[0]);
    double sdx = sqrt(2 * p.D * p.dt + 2 * p.sigma * p.sigma - 4.0 / 6 * p.D * p.dt);
    SM_CHECKF("Brownian: van Hove sd_x at lag 1 within 3%", rel(s->vh[0].sd_x, sdx) < 0.03, "sd_x=%.2f expected %.2f", s->vh[0].sd_x, sdx);
    SM_CHECKF("Brownian: non-Gaussian parameter ~0 (|NGP| < 0.05)", fabs(s->vh[0].ngp) < 0.05 && fabs(s->vh[2].ngp) < 0.05,
              "ngp=%.3f, %.3f se=%.3f", s->vh[0].ngp, s->vh[2].ngp, s->vh[0].ngp_se);
    double hint = 0;
    for (int b = 0; b < s->vh[0].bins; b++) hint += s->vh[0].hist_x[b] * (s->vh[0].hi - s->vh[0].lo) / s->vh[0].bins;
    SM_CHECKF("Brownian: van Hove histogram integrates to ~1 (range +-4.5 sd)", fabs(hint - 1) < 0.01, "int=%.4f", hint);
    SM_CHECKF("Brownian: drift estimate consistent with 0 (within 4 se)",
              fabs(s->ens.drift_x) < 4 * s->ens.drift_x_se && fabs(s->ens.drift_y) < 4 * s->ens.drift_y_se,
              "v=(%.2f, %.2f) se=(%.2f, %.2f)", s->ens.drift_x, s->ens.drift_y, s->ens.drift_x_se, s->ens.drift_y_se);
    /* EB of 2-D Brownian motion at lag 10: 2n/(3T) = 0.033; the estimate from 100 tracks has ~20% scatter and
     * noise raises it a little: accept 0.5x..2x */
    SM_CHECKF("Brownian: ergodicity breaking parameter near 2n/(3T) at lag 10",
              s->eb.value[10] > 0.5 * s->eb_brownian[10] && s->eb.value[10] < 2 * s->eb_brownian[10], "EB=%.4f expected %.4f",
              s->eb.value[10], s->eb_brownian[10]);
    SM_CHECK("Brownian: units nm and s", strcmp(s->len_unit, "nm") == 0 && strcmp(s->time_unit, "s") == 0);
    sm_error err = {0};
    char path[1024];
    SM_CHECKF("stats.json written", sm_stats_write_json(s, sm_test_tmp_path(path, sizeof path, "stats.json"), &err) == 0, "%s", err.msg);
    char *text = NULL;
    size_t len;
    sm_read_text_file(path, 1 << 26, &text, &len, NULL);
    SM_CHECK("stats.json has units, ensemble D_ci, tracks, D_cve, D_r",
             text && strstr(text, "\"units\"") && strstr(text, "\"D_ci\"") && strstr(text, "\"tracks\"") &&
                 strstr(text, "\"D_cve\"") && strstr(text, "\"D_r\"") && strstr(text, "\"sigma_loc\""));
    free(text);
    SM_CHECKF("msd.csv written", sm_stats_write_msd_csv(s, sm_test_tmp_path(path, sizeof path, "msd.csv"), &err) == 0, "%s", err.msg);
    sm_stats_destroy(s);

    /* no units: lengths in px, times in frames, D in px^2/frame */
    s = analyse(t, 0, 0, 0);
    double Dpx = p.D * p.dt / (p.px_nm * p.px_nm);
    SM_CHECKF("no units: D in px^2/frame within 5%", s && rel(s->ens.fit.D, Dpx) < 0.05 && strcmp(s->len_unit, "px") == 0,
              "D=%.3f expected %.3f", s ? s->ens.fit.D : NAN, Dpx);
    sm_stats_destroy(s);
    sm_tracks_destroy(t);
}

static void test_gaps(void) {
    sim_params p = base();
    p.gap_prob = 0.15;
    p.seed = 43;
    sm_tracks *t = sim_brownian(&p);
    sm_stats *s = analyse(t, p.px_nm, p.dt, 0);
    SM_CHECKF("gaps: D within 5% with 15% of frames missing", s && rel(s->ens.fit.D, p.D) < 0.05, "D=%.1f", s ? s->ens.fit.D : NAN);
    SM_CHECKF("gaps: D_cve within 5%", s && rel(s->ens.fit.D_cve, p.D) < 0.05, "D_cve=%.1f", s ? s->ens.fit.D_cve : NAN);
    SM_CHECKF("gaps: counted", s && s->warn.tracks_with_gaps > 90 && s->warn.missing_frames > 2000, "gaps=%lld",
              s ? (long long)s->warn.tracks_with_gaps : -1LL);
    sm_stats_destroy(s);
    sm_tracks_destroy(t);
}

static void test_fbm(double alpha) {
    double s2 = 30.0, dt = 0.1;
    sm_tracks *t = sim_fbm(100, 200, alpha, s2, 1000 + (uint64_t)(alpha * 10));
    sm_stats *s = analyse(t, 1, dt, 0);
    char name[128];
    snprintf(name, sizeof name, "fBm alpha=%.2f: ensemble alpha within 0.05", alpha);
    SM_CHECKF(name, s && fabs(s->ens.fit.alpha - alpha) < 0.05, "alpha=%.3f se=%.3f p=%d", s ? s->ens.fit.alpha : NAN,
              s ? s->ens.fit.alpha_se : NAN, s ? s->ens.fit.p_alpha : 0);
    /* 2-D MSD = 2 s2 n^alpha = 4 K (n dt)^alpha */
    double K = s2 / (2 * pow(dt, alpha));
    snprintf(name, sizeof name, "fBm alpha=%.2f: K_alpha within 10%%", alpha);
    SM_CHECKF(name, s && rel(s->ens.fit.K_alpha, K) < 0.10, "K=%.2f expected %.2f", s ? s->ens.fit.K_alpha : NAN, K);
    int want = alpha < 0.9 ? SM_DIFF_SUB : alpha > 1.1 ? SM_DIFF_SUPER : SM_DIFF_NORMAL;
    snprintf(name, sizeof name, "fBm alpha=%.2f: classified %s", alpha, sm_stats_class_name(want));
    SM_CHECKF(name, s && s->ens.fit.cls == want, "cls=%s", s ? sm_stats_class_name(s->ens.fit.cls) : "-");
    double ma = 0;
    int n = 0;
    for (int64_t i = 0; s && i < s->n_tracks; i++)
        if (isfinite(s->tracks[i].fit.alpha)) {
            ma += s->tracks[i].fit.alpha;
            n++;
        }
    /* per-track alphas (3-parameter fits on 20 lags) scatter by ~0.15-0.2 each: mean of 100 within 0.08 */
    snprintf(name, sizeof name, "fBm alpha=%.2f: mean per-track alpha within 0.08", alpha);
    SM_CHECKF(name, n > 90 && fabs(ma / n - alpha) < 0.08, "mean=%.3f n=%d", ma / n, n);
    /* VACF at lag 1 follows the fBm curve (2^alpha - 2)/2 within 0.03 */
    double v1 = 0.5 * (pow(2, alpha) - 2);
    snprintf(name, sizeof name, "fBm alpha=%.2f: VACF lag 1 near (2^alpha-2)/2", alpha);
    SM_CHECKF(name, s && fabs(s->vacf.value[1] - v1) < 0.03 && fabs(s->vacf_fbm[1] - v1) < 0.03, "vacf1=%.3f expected %.3f",
              s ? s->vacf.value[1] : NAN, v1);
    sm_stats_destroy(s);
    sm_tracks_destroy(t);
}

static void test_drift(void) {
    sim_params p = base();
    p.vx = 800;   /* nm/s: 40 nm/frame */
    p.vy = -500;
    p.seed = 44;
    sm_tracks *t = sim_brownian(&p);
    sm_stats *raw = analyse(t, p.px_nm, p.dt, 0);
    sm_stats *sub = analyse(t, p.px_nm, p.dt, 1);
    SM_CHECKF("drift: estimate within 4 se of the truth", raw && fabs(raw->ens.drift_x - p.vx) < 4 * raw->ens.drift_x_se &&
                                                             fabs(raw->ens.drift_y - p.vy) < 4 * raw->ens.drift_y_se,
              "v=(%.1f, %.1f) se=(%.1f, %.1f)", raw ? raw->ens.drift_x : NAN, raw ? raw->ens.drift_y : NAN,
              raw ? raw->ens.drift_x_se : NAN, raw ? raw->ens.drift_y_se : NAN);
    SM_CHECKF("drift: without subtraction alpha shows superdiffusion", raw && raw->ens.fit.alpha > 1.2, "alpha=%.3f",
              raw ? raw->ens.fit.alpha : NAN);
    SM_CHECKF("drift: subtraction recovers D within 5%", sub && rel(sub->ens.fit.D, p.D) < 0.05 && sub->ens.drift_subtracted,
              "D=%.1f", sub ? sub->ens.fit.D : NAN);
    SM_CHECKF("drift: subtraction recovers D_cve within 5%", sub && rel(sub->ens.fit.D_cve, p.D) < 0.05, "D_cve=%.1f",
              sub ? sub->ens.fit.D_cve : NAN);
    SM_CHECKF("drift: subtraction restores alpha ~1", sub && fabs(sub->ens.fit.alpha - 1) < 0.05, "alpha=%.3f",
              sub ? sub->ens.fit.alpha : NAN);
    sm_stats_destroy(raw);
    sm_stats_destroy(sub);
    sm_tracks_destroy(t);
}

static void test_rotation(void) {
    sim_params p = base();
    p.D_r = 0.5;
    p.sigma_theta = 0.05;
    p.seed = 45;
    sm_tracks *t = sim_brownian(&p);
    sm_stats *s = analyse(t, p.px_nm, p.dt, 0);
    SM_CHECKF("rotation: ensemble D_r within 8%", s && rel(s->ens.D_r, p.D_r) < 0.08, "D_r=%.4f se=%.4f",
              s ? s->ens.D_r : NAN, s ? s->ens.D_r_se : NAN);
    /* unwrapping: the angular MSD keeps growing linearly past (pi/2)^2 = 2.47 rad^2, while a wrapped angle's
     * MSD saturates below pi^2/6 = 1.64 rad^2. At lag 60 of 200 the expectation is 3.0 rad^2; a 1-D TA-MSD
     * has relative variance EB = 4n/(3T) = 0.4 per track, so the mean of 100 tracks has se 6.3%: tol 20%. */
    double a60 = s ? s->eaamsd.value[60] : NAN, expect = 2 * p.D_r * 60 * p.dt;
    SM_CHECKF("rotation: angular MSD at lag 60 = 2 D_r t within 20% (beyond the pi/2 wrap)", rel(a60, expect) < 0.20,
              "amsd=%.3f expected %.3f", a60, expect);
    double m = 0;
    int n = 0;
    for (int64_t i = 0; s && i < s->n_tracks; i++)
        if (isfinite(s->tracks[i].D_r)) {
            m += s->tracks[i].D_r;
            n++;
        }
    SM_CHECKF("rotation: mean per-track D_r within 8%", n == 100 && rel(m / n, p.D_r) < 0.08, "mean=%.4f", m / n);
    sm_stats_destroy(s);
    sm_tracks_destroy(t);
}

/* Unequal lengths: 90 tracks of 50 points and 10 of 150. From lag 50 on only the 10 long tracks contribute
 * (< a quarter of 100), so the ensemble is flagged unreliable there and the fits stay on the reliable part. */
static void test_unequal_lengths(void) {
    sim_params p = base();
    p.tracks = 100;
    p.steps = 149;
    p.seed = 46;
    sm_tracks *t = sim_brownian(&p);
    for (int64_t r = 0; r < t->n; r++)
        if (t->particle[r] % 10 != 0 && t->frame[r] >= 5 + 50) t->x[r] = NAN;
    sm_stats *s = analyse(t, p.px_nm, p.dt, 0);
    SM_CHECKF("unequal lengths: ensemble unreliable from lag 50", s && s->warn.first_unreliable_lag == 50, "first=%d",
              s ? s->warn.first_unreliable_lag : -2);
    SM_CHECKF("unequal lengths: lag 49 reliable, lag 50 not, with track counts 100 and 10",
              s && s->eatamsd.reliable[49] && !s->eatamsd.reliable[50] && s->eatamsd.n_tracks[49] == 100 && s->eatamsd.n_tracks[50] == 10,
              "n49=%lld n50=%lld", s ? (long long)s->eatamsd.n_tracks[49] : -1LL, s ? (long long)s->eatamsd.n_tracks[50] : -1LL);
    SM_CHECKF("unequal lengths: D within 5%", s && rel(s->ens.fit.D, p.D) < 0.05, "D=%.1f", s ? s->ens.fit.D : NAN);
    sm_stats_destroy(s);
    sm_tracks_destroy(t);
}

static void add(sm_tracks *t, int64_t particle, int64_t frame, double x, double y) {
    sm_tracks_row r = sm_tracks_row_empty();
    r.particle = particle;
    r.frame = frame;
    r.x = x;
    r.y = y;
    sm_tracks_append(t, &r, NULL);
}

static void test_degenerate(void) {
    sm_error err = {0};
    sm_stats *s = NULL;
    sm_tracks *t = sm_tracks_create();
    SM_CHECK("degenerate: empty table is SM_EINVAL", sm_stats_compute(&s, t, NULL, &err) == SM_EINVAL && !s);
    add(t, 1, 0, NAN, 3);
    SM_CHECK("degenerate: only NaN rows is SM_EINVAL", sm_stats_compute(&s, t, NULL, &err) == SM_EINVAL && !s);
    add(t, 2, 7, 1, 1);                         /* single point */
    add(t, 3, 0, 0, 0); add(t, 3, 1, 1, 0);     /* two points */
    add(t, 4, 5, 0, 0); add(t, 4, 6, 1, 1); add(t, 4, 9, 2, 0); /* three points with a gap */
    add(t, 5, 0, 0, 0); add(t, 5, 0, 9, 9); add(t, 5, 1, 0, 0); add(t, 5, 2, 0, 0); add(t, 5, 3, 0, 0); add(t, 5, 4, 0, 0); /* static, duplicate */
    add(t, 6, -3, 1, 1); add(t, 6, 1000000, 2, 2); /* huge gap */
    add(t, 7, 2, 1, INFINITY);
    /* particle 3 wraps round outside the field (visible = 0) in ground truth: that row is not an observation */
    add(t, 3, 2, 500, 500);
    t->visible[t->n - 1] = 0;
    int rc = sm_stats_compute(&s, t, NULL, &err);
    SM_CHECKF("degenerate: short, static, gapped, duplicate and NaN rows are analysed", rc == 0 && s, "rc=%d %s", rc, err.msg);
    if (s) {
        SM_CHECKF("degenerate: warnings counted", s->warn.nan_rows == 2 && s->warn.duplicate_frames == 1 &&
                                                      s->warn.single_point_tracks == 1 && s->warn.short_tracks == 3,
                  "nan=%lld dup=%lld single=%lld short=%lld", (long long)s->warn.nan_rows, (long long)s->warn.duplicate_frames,
                  (long long)s->warn.single_point_tracks, (long long)s->warn.short_tracks);
        SM_CHECKF("degenerate: the visible=0 row is dropped and counted", s->warn.hidden_rows == 1 && s->tracks[1].n == 2,
                  "hidden=%lld n=%lld", (long long)s->warn.hidden_rows, (long long)s->tracks[1].n);
        SM_CHECKF("degenerate: 5 tracks (particles 1 and 7 had no finite position)", s->n_tracks == 5, "n=%lld", (long long)s->n_tracks);
        SM_CHECK("degenerate: short tracks are not fitted", isnan(s->tracks[1].fit.D));
        char path[1024];
        SM_CHECKF("degenerate: JSON written", sm_stats_write_json(s, sm_test_tmp_path(path, sizeof path, "deg.json"), &err) == 0, "%s", err.msg);
        SM_CHECKF("degenerate: CSV written", sm_stats_write_msd_csv(s, sm_test_tmp_path(path, sizeof path, "deg.csv"), &err) == 0, "%s", err.msg);
        sm_stats_destroy(s);
    }
    /* a single long track alone */
    sm_tracks_clear(t);
    sm_rng rng;
    sm_rng_seed(&rng, 5);
    double x = 0, y = 0;
    for (int f = 0; f < 300; f++) {
        x += sm_rng_normal(&rng);
        y += sm_rng_normal(&rng);
        add(t, 9, f, x, y);
    }
    rc = sm_stats_compute(&s, t, NULL, &err);
    SM_CHECKF("single track: ensemble = track, D ~ 0.5 px^2/frame within 25%", rc == 0 && s && rel(s->ens.fit.D, 0.5) < 0.25,
              "D=%.3f", s ? s->ens.fit.D : NAN);
    sm_stats_destroy(s);
    sm_stats_options o;
    sm_stats_options_default(&o);
    o.blur_R = 0.5;
    SM_CHECK("bad option R = 0.5 is SM_EINVAL", sm_stats_compute(&s, t, &o, &err) == SM_EINVAL);
    sm_stats_destroy(NULL);
    sm_tracks_destroy(t);
}

/* Random small tables: NaNs, infinities, duplicates, negative and sparse frames, single points; every call
 * must succeed or fail cleanly, and the writers must cope with whatever came out. */
static void test_random_tables(void) {
    sm_rng rng;
    sm_rng_seed(&rng, 99);
    int ok = 1;
    char path[1024];
    for (int it = 0; it < 60 && ok; it++) {
        sm_tracks *t = sm_tracks_create();
        int rows = (int)sm_rng_below(&rng, 80);
        for (int r = 0; r < rows; r++) {
            sm_tracks_row row = sm_tracks_row_empty();
            row.particle = (int64_t)sm_rng_below(&rng, 6) - 2;
            row.frame = (int64_t)sm_rng_below(&rng, it % 3 == 0 ? 100000 : 30) - 5;
            double u = sm_rng_uniform(&rng);
            row.x = u < 0.05 ? NAN : u < 0.08 ? INFINITY : 1e6 * sm_rng_normal(&rng);
            row.y = sm_rng_uniform(&rng) < 0.5 ? 0.0 : sm_rng_normal(&rng);
            if (it % 2) row.angle = sm_rng_uniform(&rng) < 0.2 ? NAN : 3 * sm_rng_normal(&rng);
            sm_tracks_append(t, &row, NULL);
        }
        sm_stats_options o;
        sm_stats_options_default(&o);
        o.drift_subtract = it % 4 == 1;
        o.vacf_max_lag = 1 + (int)sm_rng_below(&rng, 30);
        sm_stats *s = NULL;
        sm_error err = {0};
        int rc = sm_stats_compute(&s, t, &o, &err);
        if (rc == 0) {
            ok = sm_stats_write_json(s, sm_test_tmp_path(path, sizeof path, "rand.json"), &err) == 0 &&
                 sm_stats_write_msd_csv(s, sm_test_tmp_path(path, sizeof path, "rand.csv"), &err) == 0;
            if (!ok) printf("iteration %d: %s\n", it, err.msg);
        } else if (rc != SM_EINVAL) {
            ok = 0;
            printf("iteration %d: rc %d %s\n", it, rc, err.msg);
        }
        sm_stats_destroy(s);
        sm_tracks_destroy(t);
    }
    SM_CHECK("60 random tables (NaN, inf, duplicates, sparse frames): analysed or refused cleanly, outputs written", ok);
}

int main(void) {
    test_random_tables();
    test_brownian();
    test_gaps();
    test_unequal_lengths();
    test_fbm(0.6);
    test_fbm(1.4);
    test_drift();
    test_rotation();
    test_degenerate();
    return sm_test_report();
}
