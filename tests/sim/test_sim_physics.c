/* The simulator's physics, checked statistically against analytic results:
 *   - Brownian tracks: MSD = 4 D t, D within 3%
 *   - fBm tracks: MSD ~ t^alpha, alpha within 0.05
 *   - harmonic / reflecting plateaus 4 L^2 and R^2, directed speed v, CTRW ensemble MSD ~ t^beta
 *   - shot noise: variance = mean (Poisson) over doses from 0.5 to 500 counts, skewness 1/sqrt(mean)
 *   - detector transfer: measured noise correlation at 1 and 2 px = sum_i k_i k_{i+d} of the set kernel
 *   - liquid: background counts = dose (10 p)^2 eta exp(-t/mfp); cube contrast = r(t) (1 - exp(-mu T))
 *   - masks: the geometric projection (independent inside tests), identical under any blur and defocus,
 *     with the shape's analytic area
 *   - presets: mean contrast-to-noise near 2.5, 1.2 and 0.5
 *   - determinism: bit-identical frames with 1 and 2 threads
 * Tolerances are stated with each check; sample sizes keep the statistical error several times smaller. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "samem/sim.h"
#include "test.h"

static sm_sim_config quiet_config(int W, int H) {
    sm_sim_config c;
    sm_sim_config_preset(&c, "medium", NULL);
    c.width = W; c.height = H;
    c.n_particles = 0;
    c.illumination_gradient = 0; c.illumination_curvature = 0; c.flicker = 0; c.drift_nm_per_s = 0;
    c.hot_pixels = c.dead_pixels = c.bright_rows = c.dark_rows = 0;
    c.read_noise_grey = 0; c.noise_corr_sigma_px = 0; c.gain_noise = 0;
    c.gain = 1; c.offset_grey = 0; c.bits = 32;
    c.jump_rate = 0; c.contacts = 0; c.exposure_fraction = 0;
    c.liquid_thickness_nm = 0; c.detector_efficiency = 1; c.pixel_size_nm = 1;
    return c;
}

/* Dose giving `counts` mean counts per px with quiet_config (p = 1 nm, eta = 1, no liquid). */
static double dose_for(double counts) { return counts / 100.0; }

static void moments(const float *f, size_t n, double *mean, double *var, double *skew) {
    double m = 0, v = 0, s3 = 0;
    for (size_t i = 0; i < n; i++) m += f[i];
    m /= n;
    for (size_t i = 0; i < n; i++) {
        double d = f[i] - m;
        v += d * d;
        s3 += d * d * d;
    }
    v /= n;
    s3 /= n;
    *mean = m;
    *var = v;
    if (skew) *skew = v > 0 ? s3 / pow(v, 1.5) : 0;
}

/* Correlation between pixels (dx, dy) apart. */
static double corr(const float *f, int W, int H, int dx, int dy) {
    double m = 0, v = 0, c = 0;
    size_t n = (size_t)W * H;
    for (size_t i = 0; i < n; i++) m += f[i];
    m /= n;
    for (size_t i = 0; i < n; i++) v += (f[i] - m) * (f[i] - m);
    for (int y = 0; y + dy < H; y++)
        for (int x = 0; x + dx < W; x++) c += (f[(size_t)y * W + x] - m) * (f[(size_t)(y + dy) * W + x + dx] - m);
    c /= (double)(W - dx) * (H - dy);
    return c / (v / n);
}

/* Per-particle tracks from a motion-only run: pos[(particle * T + t) * 2 + axis], px. */
static double *motion_tracks(sm_sim_config *c, uint64_t seed, int T) {
    sm_error err = {0};
    sm_tracks *tr = sm_tracks_create();
    if (sm_sim_clip(c, seed, T, NULL, NULL, tr, &err) < 0) {
        printf("sim_clip: %s\n", err.msg);
        sm_tracks_destroy(tr);
        return NULL;
    }
    double *pos = malloc(sizeof(double) * 2 * (size_t)c->n_particles * T);
    for (int64_t i = 0; i < tr->n; i++) {
        size_t k = ((size_t)(tr->particle[i] - 1) * T + (size_t)tr->frame[i]) * 2;
        pos[k] = tr->x[i];
        pos[k + 1] = tr->y[i];
    }
    sm_tracks_destroy(tr);
    return pos;
}

/* Time- and ensemble-averaged 2-D MSD at lag (px^2); displacements across the periodic domain's edge are left out. */
static double msd(const double *pos, int P, int T, int lag) {
    double s = 0;
    long n = 0;
    for (int p = 0; p < P; p++)
        for (int t = 0; t + lag < T; t++) {
            const double *a = pos + ((size_t)p * T + t) * 2, *b = pos + ((size_t)p * T + t + lag) * 2;
            if (fabs(b[0] - a[0]) > 1000 || fabs(b[1] - a[1]) > 1000) continue;  /* wrapped across the domain */
            s += (b[0] - a[0]) * (b[0] - a[0]) + (b[1] - a[1]) * (b[1] - a[1]);
            n++;
        }
    return s / n;
}

static void test_brownian(void) {
    sm_sim_config c = quiet_config(32768, 32768);
    c.n_particles = 400; c.shape = SM_SIM_SPHERE; c.motion = SM_SIM_BROWNIAN;
    c.D_min_nm2_s = c.D_max_nm2_s = 50; c.pixel_size_nm = 0.5; c.frame_interval_s = 0.02;
    int T = 200;
    double *pos = motion_tracks(&c, 11, T);
    SM_CHECK("brownian: motion-only clip runs", pos != NULL);
    if (!pos) return;
    double px2_to_nm2 = c.pixel_size_nm * c.pixel_size_nm;
    double D1 = msd(pos, c.n_particles, T, 1) * px2_to_nm2 / (4 * c.frame_interval_s);
    SM_CHECKF("brownian: D from lag-1 MSD within 3% of 50 nm^2/s", fabs(D1 / 50 - 1) < 0.03, "D=%.3f", D1);
    /* least-squares slope of MSD over lags 1..10 */
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int l = 1; l <= 10; l++) {
        double t = l * c.frame_interval_s, m = msd(pos, c.n_particles, T, l) * px2_to_nm2;
        sx += t; sy += m; sxx += t * t; sxy += t * m;
    }
    double slope = (10 * sxy - sx * sy) / (10 * sxx - sx * sx);
    SM_CHECKF("brownian: MSD slope over lags 1..10 is 4D within 3%", fabs(slope / (4 * 50) - 1) < 0.03, "D=%.3f", slope / 4);
    free(pos);
}

static void test_fbm(double alpha) {
    sm_sim_config c = quiet_config(32768, 32768);
    c.n_particles = 200; c.shape = SM_SIM_SPHERE; c.motion = SM_SIM_FBM;
    c.D_min_nm2_s = c.D_max_nm2_s = 20; c.alpha_min = c.alpha_max = alpha;
    int T = 256;
    double *pos = motion_tracks(&c, 5, T);
    if (!pos) {
        SM_CHECK("fbm: motion-only clip runs", 0);
        return;
    }
    /* log-log slope of MSD over lags 1..16 */
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int n = 0;
    for (int l = 1; l <= 16; l *= 2, n++) {
        double x = log(l), y = log(msd(pos, c.n_particles, T, l));
        sx += x; sy += y; sxx += x * x; sxy += x * y;
    }
    double a = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    char name[96];
    snprintf(name, sizeof name, "fbm: MSD exponent within 0.05 of alpha = %.2f", alpha);
    SM_CHECKF(name, fabs(a - alpha) < 0.05, "alpha=%.4f", a);
    /* the prefactor: MSD(1 frame) = 4 D dt^alpha */
    double m1 = msd(pos, c.n_particles, T, 1) * c.pixel_size_nm * c.pixel_size_nm;
    double want = 4 * 20 * pow(c.frame_interval_s, alpha);
    snprintf(name, sizeof name, "fbm: MSD(dt) = 4 D dt^alpha within 3%% (alpha %.2f)", alpha);
    SM_CHECKF(name, fabs(m1 / want - 1) < 0.03, "msd=%.4f want %.4f", m1, want);
    free(pos);
}

/* Confined, directed and CTRW motion: plateaus, drift and the anomalous exponent. */
static void test_other_motion(void) {
    sm_sim_config c = quiet_config(32768, 32768);
    c.n_particles = 300; c.shape = SM_SIM_SPHERE; c.D_min_nm2_s = c.D_max_nm2_s = 200; c.confinement_nm = 10;
    int T = 400;
    /* harmonic: each axis settles to std L, so MSD at long lags -> 4 L^2 */
    c.motion = SM_SIM_HARMONIC;
    double *pos = motion_tracks(&c, 21, T);
    if (pos) {
        double plateau = 0;
        for (int l = 150; l < 160; l++) plateau += msd(pos, c.n_particles, T, l) / 10;
        SM_CHECKF("harmonic: MSD plateau = 4 L^2 within 5%", fabs(plateau / (4 * 100) - 1) < 0.05, "plateau=%.2f px^2", plateau);
        printf("     harmonic plateau %.2f px^2 (want 400)\n", plateau);
        free(pos);
    }
    /* reflecting disc of radius R: two independent uniform points are R^2 apart on average */
    c.motion = SM_SIM_REFLECTING;
    pos = motion_tracks(&c, 22, T);
    if (pos) {
        double plateau = 0;
        for (int l = 150; l < 160; l++) plateau += msd(pos, c.n_particles, T, l) / 10;
        SM_CHECKF("reflecting: MSD plateau = R^2 within 5%", fabs(plateau / 100 - 1) < 0.05, "plateau=%.2f px^2", plateau);
        printf("     reflecting plateau %.2f px^2 (want 100)\n", plateau);
        free(pos);
    }
    /* directed: the mean step is v dt */
    c.motion = SM_SIM_DIRECTED; c.velocity_nm_s = 40; c.D_min_nm2_s = c.D_max_nm2_s = 5;
    pos = motion_tracks(&c, 23, 50);
    if (pos) {
        double speed = 0;
        for (int p = 0; p < c.n_particles; p++) {
            const double *a = pos + (size_t)p * 50 * 2, *b = a + 49 * 2;
            speed += hypot(b[0] - a[0], b[1] - a[1]) / (49 * c.frame_interval_s) / c.n_particles;
        }
        SM_CHECKF("directed: mean speed = v within 2%", fabs(speed / 40 - 1) < 0.02, "speed=%.3f nm/s", speed);
        free(pos);
    }
    /* CTRW: the ensemble MSD from the start grows as t^beta */
    c.motion = SM_SIM_CTRW; c.ctrw_beta = 0.6; c.ctrw_tau_s = 0.01; c.n_particles = 1000;
    pos = motion_tracks(&c, 24, 201);
    if (pos) {
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        int n = 0;
        for (int t = 10; t <= 200; t *= 2, n++) {
            double m = 0;
            for (int p = 0; p < c.n_particles; p++) {
                const double *a = pos + (size_t)p * 201 * 2, *b = a + (size_t)t * 2;
                m += ((b[0] - a[0]) * (b[0] - a[0]) + (b[1] - a[1]) * (b[1] - a[1])) / c.n_particles;
            }
            double x = log(t), y = log(m);
            sx += x; sy += y; sxx += x * x; sxy += x * y;
        }
        double b = (n * sxy - sx * sy) / (n * sxx - sx * sx);
        SM_CHECKF("ctrw: ensemble MSD exponent within 0.1 of beta = 0.6", fabs(b - 0.6) < 0.1, "exponent=%.3f", b);
        printf("     ctrw exponent %.3f (want 0.6)\n", b);
        free(pos);
    }
}

static void test_shot_noise(void) {
    const int W = 256, H = 256;
    float *f = malloc(sizeof(float) * W * H);
    const double counts[] = {0.5, 3, 8, 20, 31, 60, 500};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        sm_sim_config c = quiet_config(W, H);
        c.dose_e_per_a2 = dose_for(counts[i]);
        sm_error err = {0};
        if (sm_sim_clip(&c, 100 + i, 1, f, NULL, NULL, &err) < 0) {
            SM_CHECKF("shot noise: clip", 0, "%s", err.msg);
            break;
        }
        double m, v, sk;
        moments(f, (size_t)W * H, &m, &v, &sk);
        char name[128];
        snprintf(name, sizeof name, "shot noise: mean counts %.1f within 1%% (4 sigma)", counts[i]);
        SM_CHECKF(name, fabs(m / counts[i] - 1) < fmax(0.01, 4 / sqrt(counts[i] * W * H)), "mean=%.4f", m);
        snprintf(name, sizeof name, "shot noise: variance = mean within 3%% at %.1f counts", counts[i]);
        SM_CHECKF(name, fabs(v / m - 1) < 0.03, "var/mean=%.4f", v / m);
        if (counts[i] <= 31) {
            snprintf(name, sizeof name, "shot noise: skewness 1/sqrt(mean) within 0.05 at %.1f counts", counts[i]);
            SM_CHECKF(name, fabs(sk - 1 / sqrt(counts[i])) < 0.05, "skew=%.4f want %.4f", sk, 1 / sqrt(counts[i]));
        }
    }
    /* gain (Swank) noise multiplies the variance by 1 + s^2 and keeps the mean */
    sm_sim_config c = quiet_config(W, H);
    c.dose_e_per_a2 = dose_for(8);
    c.gain_noise = 0.5;
    sm_error err = {0};
    if (sm_sim_clip(&c, 77, 1, f, NULL, NULL, &err) == 0) {
        double m, v;
        moments(f, (size_t)W * H, &m, &v, NULL);
        SM_CHECKF("gain noise 0.5: mean 8 within 1%, variance = 1.25 mean within 3%", fabs(m / 8 - 1) < 0.01 && fabs(v / (1.25 * m) - 1) < 0.03,
                  "mean=%.4f var/mean=%.4f", m, v / m);
    }
    /* read noise adds its variance (gain 1: grey = electrons) */
    c.gain_noise = 0;
    c.read_noise_grey = 3;
    if (sm_sim_clip(&c, 78, 1, f, NULL, NULL, &err) == 0) {
        double m, v;
        moments(f, (size_t)W * H, &m, &v, NULL);
        SM_CHECKF("read noise 3: variance = mean + 9 within 3%", fabs(v / (m + 9) - 1) < 0.03, "mean=%.4f var=%.4f", m, v);
    }
    free(f);
}

static void test_noise_correlation(void) {
    const int W = 256, H = 256;
    float *f = malloc(sizeof(float) * W * H);
    const double sig[] = {0.45, 0.8, 1.5};
    for (size_t i = 0; i < 3; i++) {
        sm_sim_config c = quiet_config(W, H);
        c.dose_e_per_a2 = dose_for(10);
        c.noise_corr_sigma_px = sig[i];
        sm_error err = {0};
        sm_sim *s;
        if (sm_sim_create(&s, &c, 7 + i, &err) < 0 || sm_sim_next_frame(s, f, NULL, NULL, &err) < 0) {
            SM_CHECKF("noise correlation: frame", 0, "%s", err.msg);
            break;
        }
        /* the transfer function's own correlation, computed independently from its definition */
        int R = (int)ceil(3.5 * sig[i]);
        double k[64], ss = 0, r1 = 0, r2 = 0;
        for (int j = -R; j <= R; j++) {
            k[j + R] = exp(-(double)j * j / (2 * sig[i] * sig[i]));
            ss += k[j + R] * k[j + R];
        }
        for (int j = 0; j + 1 <= 2 * R; j++) r1 += k[j] * k[j + 1] / ss;
        for (int j = 0; j + 2 <= 2 * R; j++) r2 += k[j] * k[j + 2] / ss;
        double mx = corr(f, W, H, 1, 0), my = corr(f, W, H, 0, 1), m2 = corr(f, W, H, 2, 0);
        char name[128];
        snprintf(name, sizeof name, "noise correlation (sigma %.2f px): 1 px in x and y = %.3f within 0.02", sig[i], r1);
        SM_CHECKF(name, fabs(mx - r1) < 0.02 && fabs(my - r1) < 0.02, "x=%.4f y=%.4f", mx, my);
        snprintf(name, sizeof name, "noise correlation (sigma %.2f px): 2 px = %.3f within 0.02", sig[i], r2);
        SM_CHECKF(name, fabs(m2 - r2) < 0.02, "%.4f", m2);
        snprintf(name, sizeof name, "noise correlation (sigma %.2f px): reported 1 px value matches", sig[i]);
        SM_CHECKF(name, fabs(sm_sim_get_imaging(s)->noise_corr_1px - r1) < 1e-6, "%.6f", sm_sim_get_imaging(s)->noise_corr_1px);
        double m, v;
        moments(f, (size_t)W * H, &m, &v, NULL);
        snprintf(name, sizeof name, "noise correlation (sigma %.2f px): variance still = mean within 4%%", sig[i]);
        SM_CHECKF(name, fabs(v / m - 1) < 0.04, "var/mean=%.4f", v / m);
        sm_sim_destroy(s);
    }
    free(f);
}

/* One big cube at the centre: background counts and core contrast against liquid thickness. */
static void test_liquid(void) {
    const int W = 240, H = 240;
    float *f = malloc(sizeof(float) * W * H);
    uint16_t *l = malloc(sizeof(uint16_t) * W * H);
    const double t_nm[] = {0, 50, 150, 300};
    for (size_t i = 0; i < 4; i++) {
        sm_sim_config c = quiet_config(W, H);
        c.liquid_thickness_nm = t_nm[i];
        c.dose_e_per_a2 = 50;  /* 5000 counts per px before the liquid */
        c.n_particles = 1; c.shape = SM_SIM_CUBE; c.size_min_px = c.size_max_px = 60;
        c.mu_min_per_nm = c.mu_max_per_nm = 0.01; c.lattice_amplitude = 0; c.diffraction_variation = 0;
        c.D_min_nm2_s = c.D_max_nm2_s = 0; c.D_r_min = c.D_r_max = 0; c.margin_px = 0;
        c.psf_sigma_min_px = c.psf_sigma_max_px = 1; c.fringe_min = c.fringe_max = 0;
        sm_error err = {0};
        sm_sim *s;
        sm_tracks *tr = sm_tracks_create();
        if (sm_sim_create(&s, &c, 3, &err) < 0 || sm_sim_next_frame(s, f, l, tr, &err) < 0) {
            SM_CHECKF("liquid: frame", 0, "%s", err.msg);
            sm_tracks_destroy(tr);
            break;
        }
        /* background: pixels more than 50 px from the cube's centre; core: within 15 px */
        double cx = tr->x[0], cy = tr->y[0], bg = 0, core = 0;
        long nb = 0, nc = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double d = fmax(fabs(x - cx), fabs(y - cy));
                if (d > 50) bg += f[(size_t)y * W + x], nb++;
                else if (d < 15) core += f[(size_t)y * W + x], nc++;
            }
        bg /= nb;
        core /= nc;
        double want_bg = 5000 * exp(-t_nm[i] / c.liquid_mfp_nm);
        double want_c = exp(-t_nm[i] / c.liquid_fog_nm) * (1 - exp(-0.01 * 60));
        char name[128];
        snprintf(name, sizeof name, "liquid %.0f nm: background = N0 exp(-t/mfp) within 1%%", t_nm[i]);
        SM_CHECKF(name, fabs(bg / want_bg - 1) < 0.01, "bg=%.2f want %.2f", bg, want_bg);
        snprintf(name, sizeof name, "liquid %.0f nm: contrast = r(t)(1 - exp(-mu T)) within 0.01", t_nm[i]);
        SM_CHECKF(name, fabs((1 - core / bg) - want_c) < 0.01, "contrast=%.4f want %.4f", 1 - core / bg, want_c);
        sm_tracks_destroy(tr);
        sm_sim_destroy(s);
    }
    free(f);
    free(l);
}

/* Independent inside tests at the truth pose (screen angle counter-clockwise, y down). */
static int inside(sm_sim_shape shape, double size, double width, double dx, double dy, double ang) {
    double X = dx * cos(ang) - dy * sin(ang), Y = dx * sin(ang) + dy * cos(ang);
    switch (shape) {
    case SM_SIM_SPHERE: return X * X + Y * Y < size * size / 4;
    case SM_SIM_ROD: {
        double a = width / 2, h = size / 2 - a, ax = fmax(fabs(X) - h, 0);
        return ax * ax + Y * Y < a * a;
    }
    case SM_SIM_CUBE: return fabs(X) < size / 2 && fabs(Y) < size / 2;
    default: return -1;  /* polygons: checked by area only */
    }
}

static void test_masks(void) {
    const int W = 200, H = 200, T = 12;
    float *f = malloc(sizeof(float) * W * H * T);
    uint16_t *l1 = malloc(sizeof(uint16_t) * W * H * T), *l2 = malloc(sizeof(uint16_t) * W * H * T);
    for (int shape = 0; shape < SM_SIM_SHAPE_COUNT; shape++) {
        sm_sim_config c = quiet_config(W, H);
        c.dose_e_per_a2 = dose_for(10);
        c.n_particles = 1; c.shape = (sm_sim_shape)shape; c.size_min_px = c.size_max_px = 41.3;
        c.rod_aspect_min = c.rod_aspect_max = 3; c.margin_px = 0;
        c.D_min_nm2_s = c.D_max_nm2_s = 400; c.D_r_min = c.D_r_max = 10; c.frame_interval_s = 0.1;
        c.psf_sigma_min_px = c.psf_sigma_max_px = 0.5; c.fringe_min = c.fringe_max = 0;
        sm_tracks *tr = sm_tracks_create();
        sm_error err = {0};
        int rc = sm_sim_clip(&c, 40 + shape, T, f, l1, tr, &err);
        c.psf_sigma_min_px = c.psf_sigma_max_px = 4; c.fringe_min = c.fringe_max = 0.4; c.astigmatism = 0.3;
        c.liquid_thickness_nm = 150;
        if (rc == 0) rc = sm_sim_clip(&c, 40 + shape, T, f, l2, NULL, &err);
        if (rc < 0) {
            SM_CHECKF("masks: clips", 0, "%s", err.msg);
            sm_tracks_destroy(tr);
            break;
        }
        char name[128];
        snprintf(name, sizeof name, "masks (%s): identical under PSF 0.5 px and PSF 4 px with fringes", sm_sim_shape_name(c.shape));
        SM_CHECK(name, memcmp(l1, l2, sizeof(uint16_t) * W * H * T) == 0);
        sm_sim *s;
        sm_sim_create(&s, &c, 40 + shape, &err);
        const sm_sim_particle *p = sm_sim_particles(s, NULL);
        double rel = 0, area = p->area_px2;
        long mismatch = 0, counted = 0, whole = 0;
        for (int t = 0; t < T; t++) {
            long n = 0;
            double cx = tr->x[t], cy = tr->y[t], ang = tr->angle[t];
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int lab = l1[(size_t)t * W * H + (size_t)y * W + x] == 1;
                    n += lab;
                    int in = inside(c.shape, p->size_px, p->width_px, x - cx, y - cy, ang);
                    /* angle is reported modulo pi: symmetric shapes do not care */
                    if (in >= 0) {
                        mismatch += in != lab;
                        counted++;
                    }
                }
            if (tr->border[t] == 0 && n > 0) rel += (n - area) / area, whole++;
        }
        rel = whole ? rel / whole : 1;
        snprintf(name, sizeof name, "masks (%s): mean pixel count = analytic area %.1f px^2 within 1%%", sm_sim_shape_name(c.shape), area);
        SM_CHECKF(name, fabs(rel) < 0.01, "rel=%.4f", rel);
        if (counted > 0) {
            snprintf(name, sizeof name, "masks (%s): every pixel's label = centre inside the shape (independent test)", sm_sim_shape_name(c.shape));
            SM_CHECKF(name, mismatch == 0, "%ld mismatches", mismatch);
        }
        sm_sim_destroy(s);
        sm_tracks_destroy(tr);
    }
    free(f);
    free(l1);
    free(l2);
}

static void test_presets(void) {
    const char *names[] = {"thin", "medium", "thick"};
    const double want[] = {2.5, 1.2, 0.5};
    for (int i = 0; i < 3; i++) {
        double sum = 0;
        int n = 0;
        for (int seed = 1; seed <= 8; seed++) {
            sm_sim_config c;
            sm_error err = {0};
            sm_sim_config_preset(&c, names[i], &err);
            c.width = c.height = 256; c.n_particles = 6;
            sm_sim *s;
            float *f = malloc(sizeof(float) * 256 * 256);
            if (sm_sim_create(&s, &c, (uint64_t)seed, &err) < 0) break;
            for (int t = 0; t < 3; t++) {
                sm_sim_next_frame(s, f, NULL, NULL, &err);
                double v = sm_sim_last_frame(s)->cnr;
                if (isfinite(v)) sum += v, n++;
            }
            sm_sim_destroy(s);
            free(f);
        }
        double m = n ? sum / n : NAN;
        char name[128];
        snprintf(name, sizeof name, "preset %s: mean contrast-to-noise %.1f within 25%%", names[i], want[i]);
        SM_CHECKF(name, fabs(m / want[i] - 1) < 0.25, "cnr=%.3f", m);
    }
}

static void test_determinism(void) {
    sm_sim_config c;
    sm_sim_config_preset(&c, "medium", NULL);
    c.width = 192; c.height = 160; c.n_particles = 8; c.motion = SM_SIM_MOTION_MIXED; c.jpeg_quality = 80;
    c.aggregation_prob = 0.5;
    const int T = 4;
    size_t n = (size_t)c.width * c.height * T;
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n), *d = malloc(sizeof(float) * n);
    uint16_t *la = malloc(2 * n), *lb = malloc(2 * n);
    sm_error err = {0};
    omp_set_num_threads(1);
    int rc = sm_sim_clip(&c, 99, T, a, la, NULL, &err);
    omp_set_num_threads(2);
    if (rc == 0) rc = sm_sim_clip(&c, 99, T, b, lb, NULL, &err);
    if (rc == 0) rc = sm_sim_clip(&c, 100, T, d, NULL, NULL, &err);
    SM_CHECKF("determinism: clips", rc == 0, "%s", err.msg);
    SM_CHECK("determinism: same seed, 1 and 2 threads: bit-identical frames", memcmp(a, b, sizeof(float) * n) == 0);
    SM_CHECK("determinism: same seed, 1 and 2 threads: identical labels", memcmp(la, lb, 2 * n) == 0);
    SM_CHECK("determinism: another seed gives another video", memcmp(a, d, sizeof(float) * n) != 0);
    int integral = 1;
    for (size_t i = 0; i < n; i++) integral &= a[i] == floorf(a[i]) && a[i] >= 0 && a[i] <= 255;
    SM_CHECK("frames hold 8-bit grey levels (integers in 0..255)", integral);
    free(a); free(b); free(d); free(la); free(lb);
}

int main(void) {
    test_brownian();
    test_fbm(0.5);
    test_fbm(1.5);
    test_other_motion();
    test_shot_noise();
    test_noise_correlation();
    test_liquid();
    test_masks();
    test_presets();
    test_determinism();
    return sm_test_report();
}
