/* sm_stats_compute: from a track table to every motion statistic samem reports.
 *
 * Order of work: (1) index the valid rows by (particle, frame), dropping NaN positions and repeated frames;
 * (2) drift = sum of end-to-end displacements / sum of spans (a ratio estimator, se from its spread over
 * tracks), optionally subtracted; (3) per track, in parallel: dense arrays over the frame span (gaps are
 * invalid entries), TA-MSD (msd.c), fits (fit.c), CVE sums, unwrapped angles, angular MSD and D_r;
 * (4) ensemble curves: EA-TA-MSD (mean of the tracks' TA-MSDs, se from their spread), EA-MSD from each
 * track's first frame, their reliability flags, ensemble fits with jackknife standard errors over 10 groups
 * of tracks, pooled CVE, ergodicity breaking; (5) van Hove distributions and the velocity autocorrelation.
 * The EA-MSD uses each track's own start as time origin (LPTEM tracks start when a particle is first found,
 * not at a common stimulus).
 * References: Michalet 2010 PRE 82 041914 (fit lags), Vestergaard, Blainey, Flyvbjerg 2014 PRE 89 022726
 * (CVE, motion blur), Burov, Jeon, Metzler, Barkai 2011 PCCP 13 1800 (EB, TA vs EA MSD), Rahman 1964 / Kob
 * and Andersen 1995 (non-Gaussian parameter, here its 2-D form <r^4>/(2<r^2>^2) - 1).
 * Leaves out: 3-D tracks, change-point segmentation, confined-diffusion models. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats/stats_impl.h"

#define SM_JACK_GROUPS 10
#define SM_MAX_SPAN ((int64_t)1 << 22) /* frames a track may span (gaps included): 4.2 M */

void sm_stats_options_default(sm_stats_options *o) {
    memset(o, 0, sizeof *o);
    o->px_nm = 0;
    o->dt_s = 0;
    o->blur_R = 1.0 / 6.0;
    o->drift_subtract = 0;
    o->n_vh_lags = 3;
    o->vh_lags[0] = 1;
    o->vh_lags[1] = 2;
    o->vh_lags[2] = 4;
    o->vh_bins = 41;
    o->vacf_max_lag = 20;
    o->min_tracks = 5;
    o->min_track_fraction = 0.25;
}

typedef struct row_key {
    int64_t particle, frame, row;
} row_key;

static int cmp_key(const void *a, const void *b) {
    const row_key *p = a, *q = b;
    if (p->particle != q->particle) return p->particle < q->particle ? -1 : 1;
    if (p->frame != q->frame) return p->frame < q->frame ? -1 : 1;
    return (p->row > q->row) - (p->row < q->row);
}

typedef struct track_span {
    int64_t start, n; /* rows keys[start .. start+n) */
} track_span;

static int curve_alloc(sm_stats_curve *c, int n) {
    c->n = n;
    if (n <= 0) return 0;
    c->value = calloc((size_t)n, sizeof *c->value);
    c->se = calloc((size_t)n, sizeof *c->se);
    c->n_disp = calloc((size_t)n, sizeof *c->n_disp);
    c->n_tracks = calloc((size_t)n, sizeof *c->n_tracks);
    c->reliable = calloc((size_t)n, 1);
    return (c->value && c->se && c->n_disp && c->n_tracks && c->reliable) ? 0 : -1;
}

static void curve_free(sm_stats_curve *c) {
    free(c->value); free(c->se); free(c->n_disp); free(c->n_tracks); free(c->reliable);
    memset(c, 0, sizeof *c);
}

void sm_stats_destroy(sm_stats *s) {
    if (!s) return;
    for (int64_t i = 0; i < s->n_tracks; i++) {
        free(s->tracks[i].msd);
        free(s->tracks[i].msd_count);
        free(s->tracks[i].amsd);
    }
    free(s->tracks);
    curve_free(&s->eatamsd);
    curve_free(&s->eamsd);
    curve_free(&s->eaamsd);
    curve_free(&s->vacf);
    curve_free(&s->eb);
    free(s->vacf_fbm);
    free(s->eb_brownian);
    for (int j = 0; j < s->n_vh; j++) {
        free(s->vh[j].hist_x);
        free(s->vh[j].hist_y);
        free(s->vh[j].hist_r);
    }
    free(s);
}

static void fit_nan(sm_stats_fit *f) {
    f->D = f->D_se = f->D_ols = f->D_ols_se = f->sigma = f->sigma_se = f->reduced_x = NAN;
    f->alpha = f->alpha_se = f->K_alpha = f->K_alpha_se = f->alpha_offset = NAN;
    f->D_cve = f->D_cve_se = f->sigma_cve = NAN;
    f->p_D = f->p_sigma = f->p_alpha = 0;
    f->cls = SM_DIFF_UNKNOWN;
}

/* The context shared by the passes. */
typedef struct ctx {
    const sm_tracks *t;
    const row_key *keys;
    const track_span *spans;
    double len, drift_x, drift_y; /* len per px; drift in len per frame (0 when not subtracted) */
} ctx;

/* Dense arrays over a track's span L: positions (len, drift removed), validity, unwrapped angles (rad). */
static void fill_track(const ctx *c, int64_t i, double *x, double *y, unsigned char *valid, double *th,
                       unsigned char *valid_th, int64_t L) {
    const track_span *sp = &c->spans[i];
    const row_key *k = c->keys + sp->start;
    int64_t f0 = k[0].frame;
    memset(valid, 0, (size_t)L);
    if (valid_th) memset(valid_th, 0, (size_t)L);
    double prev_raw = NAN, prev_un = 0;
    for (int64_t j = 0; j < sp->n; j++) {
        int64_t r = k[j].row, t = k[j].frame - f0;
        x[t] = c->t->x[r] * c->len - c->drift_x * (double)t;
        y[t] = c->t->y[r] * c->len - c->drift_y * (double)t;
        valid[t] = 1;
        if (th) {
            double a = c->t->angle[r];
            if (isfinite(a)) {
                double u;
                if (isfinite(prev_raw)) {
                    double d = a - prev_raw;
                    d -= M_PI * nearbyint(d / M_PI);
                    u = prev_un + d;
                } else {
                    u = a;
                }
                prev_raw = a;
                prev_un = u;
                th[t] = u;
                valid_th[t] = 1;
            }
        }
    }
}

/* CVE sums over a dense 1-D or 2-D signal: steps of one frame and products of successive steps. */
static void cve_sums(const double *x, const double *y, const unsigned char *v, int64_t L, double *s1, double *n1,
                     double *s2, double *n2) {
    for (int64_t t = 0; t + 1 < L; t++) {
        if (!v[t] || !v[t + 1]) continue;
        double dx = x[t + 1] - x[t];
        *s1 += dx * dx;
        *n1 += 1;
        double dy = 0;
        if (y) {
            dy = y[t + 1] - y[t];
            *s1 += dy * dy;
            *n1 += 1;
        }
        if (t + 2 < L && v[t + 2]) {
            *s2 += dx * (x[t + 2] - x[t + 1]);
            *n2 += 1;
            if (y) {
                *s2 += dy * (y[t + 2] - y[t + 1]);
                *n2 += 1;
            }
        }
    }
}

static int cmp_i64(const void *a, const void *b) {
    int64_t p = *(const int64_t *)a, q = *(const int64_t *)b;
    return (p > q) - (p < q);
}

/* Lags for the alpha fit: a tenth of the track (TA-MSD points beyond rest on few independent displacements),
 * at least 8 so that the three-parameter fit has residual degrees of freedom, at most the lags available. */
static int alpha_points(int64_t N, int maxlag) {
    int p = (int)(N / 10);
    if (p < 8) p = 8;
    if (p > maxlag) p = maxlag;
    return p;
}

/* Ensemble fits on a curve (index = lag) with reliable lags 1..maxrel. */
static void ensemble_fit(sm_stats_fit *f, const double *curve, int maxrel, int64_t Nmed, double dt, double R,
                         const int *fixed_p) {
    fit_nan(f);
    if (maxrel < 2) return;
    if (fixed_p) sm_stats_fit_linear_p(f, curve, fixed_p[0], fixed_p[1], Nmed, dt, R);
    else sm_stats_fit_linear(f, curve, maxrel, Nmed, dt, R);
    int pa = fixed_p ? fixed_p[2] : alpha_points(Nmed, maxrel);
    sm_stats_fit_alpha(f, curve, pa, dt);
}

/* Reliability threshold: tracks needed at a lag, from the tracks present at lag 1. */
static int64_t reliable_threshold(const sm_stats_options *o, int64_t n1) {
    int64_t a = o->min_tracks < n1 ? o->min_tracks : n1;
    int64_t b = (int64_t)ceil(o->min_track_fraction * (double)n1);
    int64_t t = a > b ? a : b;
    return t < 1 ? 1 : t;
}

static void mark_reliable(sm_stats_curve *cv, const sm_stats_options *o) {
    if (cv->n <= 0) return;
    int64_t n1 = cv->n > 1 ? cv->n_tracks[1] : cv->n_tracks[0];
    int64_t thr = reliable_threshold(o, n1);
    cv->reliable[0] = cv->n_tracks[0] > 0;
    for (int k = 1; k < cv->n; k++) cv->reliable[k] = cv->n_tracks[k] >= thr && cv->n_tracks[k] > 0;
}

static double jack_se(const double *v, int G) {
    double m = 0;
    int n = 0;
    for (int g = 0; g < G; g++)
        if (isfinite(v[g])) {
            m += v[g];
            n++;
        }
    if (n < G) return NAN;
    m /= n;
    double ss = 0;
    for (int g = 0; g < G; g++) ss += (v[g] - m) * (v[g] - m);
    return sqrt((double)(G - 1) / G * ss);
}

/* Mean of per-track curves (index = lag) with se from their spread, plus per-group sums for the jackknife. */
static void average_curves(sm_stats *s, sm_stats_curve *cv, int use_angles, double *gsum, double *gcnt, int G,
                           double *eb) {
    int nL = cv->n;
    double *ss = calloc((size_t)nL, sizeof *ss);
    if (!ss) return;
    for (int64_t i = 0; i < s->n_tracks; i++) {
        const sm_track_stats *ts = &s->tracks[i];
        const double *m = use_angles ? ts->amsd : ts->msd;
        if (!m) continue;
        int g = (int)(i % G);
        for (int k = 0; k <= ts->n_lags && k < nL; k++) {
            if (ts->msd_count[k] <= 0 || !isfinite(m[k])) continue;
            cv->value[k] += m[k];
            ss[k] += m[k] * m[k];
            cv->n_tracks[k]++;
            cv->n_disp[k] += ts->msd_count[k];
            if (gsum) {
                gsum[(size_t)g * nL + k] += m[k];
                gcnt[(size_t)g * nL + k] += 1;
            }
        }
    }
    for (int k = 0; k < nL; k++) {
        double n = (double)cv->n_tracks[k];
        if (n <= 0) {
            cv->value[k] = cv->se[k] = NAN;
            if (eb) eb[k] = NAN;
            continue;
        }
        double mean = cv->value[k] / n, var = ss[k] / n - mean * mean;
        if (var < 0) var = 0;
        cv->value[k] = mean;
        cv->se[k] = n >= 2 ? sqrt(var * n / (n - 1) / n) : NAN;
        if (eb) eb[k] = (n >= 2 && mean > 0) ? var / (mean * mean) : NAN;
    }
    cv->value[0] = 0;
    free(ss);
}

/* Per-thread sums of the dense passes. */
typedef struct dense_acc {
    double *ea_s, *ea_ss, *ea_n;          /* (nL) EA-MSD from the first frame */
    double *va_s, *va_ss, *va_n, *va_tr;  /* (M+1) velocity products */
    double *vh_m;                         /* (nvh, 7): n sx sxx sy syy sr2 sr4 */
    double *vh_g;                         /* (nvh, G, 3): n sr2 sr4 per group */
    double *hist;                         /* (nvh, 3, bins) counts */
} dense_acc;

static int acc_alloc(dense_acc *a, int nL, int M, int nvh, int G, int bins) {
    a->ea_s = calloc((size_t)nL * 3, sizeof(double));
    a->va_s = calloc((size_t)(M + 1) * 4, sizeof(double));
    a->vh_m = calloc((size_t)(nvh * 7 + nvh * G * 3 + nvh * 3 * bins + 1), sizeof(double));
    if (!a->ea_s || !a->va_s || !a->vh_m) return -1;
    a->ea_ss = a->ea_s + nL;
    a->ea_n = a->ea_ss + nL;
    a->va_ss = a->va_s + (M + 1);
    a->va_n = a->va_ss + (M + 1);
    a->va_tr = a->va_n + (M + 1);
    a->vh_g = a->vh_m + nvh * 7;
    a->hist = a->vh_g + nvh * G * 3;
    return 0;
}

static void acc_free(dense_acc *a) {
    free(a->ea_s);
    free(a->va_s);
    free(a->vh_m);
}

static void acc_add(dense_acc *dst, const dense_acc *src, int nL, int M, int nvh, int G, int bins) {
    for (int k = 0; k < nL * 3; k++) dst->ea_s[k] += src->ea_s[k];
    for (int k = 0; k < (M + 1) * 4; k++) dst->va_s[k] += src->va_s[k];
    for (int k = 0; k < nvh * 7 + nvh * G * 3 + nvh * 3 * bins; k++) dst->vh_m[k] += src->vh_m[k];
}

static int bin_of(double v, double lo, double hi, int bins) {
    if (!(v >= lo) || !(v < hi)) return -1;
    int b = (int)((v - lo) / (hi - lo) * bins);
    return b >= bins ? bins - 1 : b;
}

/* One pass over dense tracks. pass 0: EA-MSD, VACF, van Hove moments; pass 1: van Hove histograms. */
static int dense_pass(sm_stats *s, const ctx *c, int64_t maxL, int pass, dense_acc *total, int nL, int M, int G) {
    const int nvh = s->n_vh, bins = s->opt.vh_bins;
    int fail = 0;
#pragma omp parallel
    {
        size_t Lz = (size_t)maxL;
        double *x = malloc(Lz * sizeof *x), *y = malloc(Lz * sizeof *y);
        unsigned char *v = malloc(Lz);
        dense_acc a;
        memset(&a, 0, sizeof a);
        int ok = x && y && v && acc_alloc(&a, nL, M, nvh, G, bins) == 0;
        if (!ok) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 16)
        for (int64_t i = 0; i < s->n_tracks; i++) {
            if (!ok) continue;
            const sm_track_stats *ts = &s->tracks[i];
            int64_t L = ts->n_lags + 1;
            if (ts->n < 2) continue;
            fill_track(c, i, x, y, v, NULL, NULL, L);
            int g = (int)(i % G);
            for (int j = 0; j < nvh; j++) {
                const sm_stats_vanhove *vh = &s->vh[j];
                int lag = vh->lag;
                double *m = a.vh_m + j * 7, *gm = a.vh_g + (j * G + g) * 3;
                double *h = a.hist + (size_t)j * 3 * bins;
                for (int64_t t = 0; t + lag < L; t++) {
                    if (!v[t] || !v[t + lag]) continue;
                    double dx = x[t + lag] - x[t], dy = y[t + lag] - y[t], r2 = dx * dx + dy * dy;
                    if (pass == 0) {
                        m[0] += 1; m[1] += dx; m[2] += dx * dx; m[3] += dy; m[4] += dy * dy; m[5] += r2; m[6] += r2 * r2;
                        gm[0] += 1; gm[1] += r2; gm[2] += r2 * r2;
                    } else {
                        int b = bin_of(dx, vh->lo, vh->hi, bins);
                        if (b >= 0) h[b] += 1;
                        b = bin_of(dy, vh->lo, vh->hi, bins);
                        if (b >= 0) h[bins + b] += 1;
                        b = bin_of(sqrt(r2), 0.0, vh->r_hi, bins);
                        if (b >= 0) h[2 * bins + b] += 1;
                    }
                }
            }
            if (pass != 0) continue;
            for (int64_t t = 1; t < L && t < nL; t++) {
                if (!v[t]) continue;
                double dx = x[t] - x[0], dy = y[t] - y[0], r2 = dx * dx + dy * dy;
                a.ea_s[t] += r2;
                a.ea_ss[t] += r2 * r2;
                a.ea_n[t] += 1;
            }
            /* one-frame velocities (len/frame) in place of the positions, invalid ones zeroed */
            for (int64_t t = 0; t + 1 < L; t++) {
                int ok2 = v[t] && v[t + 1];
                x[t] = ok2 ? x[t + 1] - x[t] : 0.0;
                y[t] = ok2 ? y[t + 1] - y[t] : 0.0;
                v[t] = (unsigned char)ok2;
            }
            for (int tau = 0; tau <= M && tau + 1 < L; tau++) {
                double n = 0, sp = 0, spp = 0;
                for (int64_t t = 0; t + tau + 1 < L; t++) {
                    double p = x[t] * x[t + tau] + y[t] * y[t + tau];
                    n += v[t] & v[t + tau];
                    sp += p;
                    spp += p * p;
                }
                a.va_s[tau] += sp;
                a.va_ss[tau] += spp;
                a.va_n[tau] += n;
                if (n > 0) a.va_tr[tau] += 1;
            }
        }
        if (ok) {
#pragma omp critical(sm_stats_dense)
            acc_add(total, &a, nL, M, nvh, G, bins);
        }
        acc_free(&a);
        free(x); free(y); free(v);
    }
    return fail ? -1 : 0;
}

static int ensemble(sm_stats *s, const ctx *c, const double *cve, int64_t maxL) {
    const sm_stats_options *o = &s->opt;
    const double dt = s->time_scale, R = o->blur_R;
    const int G = SM_JACK_GROUPS;
    int nL = (int)maxL;
    int rc = -1;
    double *gsum = NULL, *gcnt = NULL, *cj = NULL;
    int64_t *ns = NULL;
    if (curve_alloc(&s->eatamsd, nL) < 0 || curve_alloc(&s->eb, nL) < 0 || curve_alloc(&s->eamsd, nL) < 0) return -1;
    s->eb_brownian = calloc((size_t)nL, sizeof *s->eb_brownian);
    gsum = calloc((size_t)G * nL, sizeof *gsum);
    gcnt = calloc((size_t)G * nL, sizeof *gcnt);
    cj = malloc((size_t)nL * sizeof *cj);
    ns = malloc((size_t)s->n_tracks * sizeof *ns);
    if (!s->eb_brownian || !gsum || !gcnt || !cj || !ns) goto done;

    /* EA-TA-MSD and ergodicity breaking */
    average_curves(s, &s->eatamsd, 0, gsum, gcnt, G, s->eb.value);
    mark_reliable(&s->eatamsd, o);
    memcpy(s->eb.n_tracks, s->eatamsd.n_tracks, (size_t)nL * sizeof *ns);
    memcpy(s->eb.n_disp, s->eatamsd.n_disp, (size_t)nL * sizeof *ns);
    memcpy(s->eb.reliable, s->eatamsd.reliable, (size_t)nL);
    int64_t nn = 0;
    double Tsum = 0;
    for (int64_t i = 0; i < s->n_tracks; i++)
        if (s->tracks[i].n >= 2) {
            ns[nn++] = s->tracks[i].n;
            Tsum += (double)s->tracks[i].n;
        }
    for (int k = 0; k < nL; k++) {
        s->eb.se[k] = NAN;
        s->eb_brownian[k] = nn ? 2.0 * k / (3.0 * Tsum / (double)nn) : NAN;
    }
    int maxrel = 0;
    for (int k = 1; k < nL; k++) {
        if (!s->eatamsd.reliable[k]) {
            s->warn.first_unreliable_lag = k;
            break;
        }
        maxrel = k;
    }
    int64_t Nmed = 0;
    if (nn > 0) {
        qsort(ns, (size_t)nn, sizeof *ns, cmp_i64);
        Nmed = ns[nn / 2];
    }
    sm_stats_fit *ef = &s->ens.fit;
    fit_nan(ef);
    if (maxrel >= 2 && Nmed >= 3) {
        int ml = maxrel < SM_FIT_MAX_P ? maxrel : SM_FIT_MAX_P;
        ensemble_fit(ef, s->eatamsd.value, ml, Nmed, dt, R, NULL);
        if (ef->p_alpha == 0) sm_stats_fit_alpha(ef, s->eatamsd.value, alpha_points(Nmed, maxrel), dt);
        int64_t n1 = s->eatamsd.n_tracks[1];
        /* the model covariance is that of one track's TA-MSD; the ensemble mean of n1 tracks has 1/n1 of it */
        if (n1 > 1) {
            double sc = 1.0 / sqrt((double)n1);
            ef->D_se *= sc;
            ef->D_ols_se *= sc;
            ef->sigma_se *= sc;
        }
        if (n1 >= G && ef->p_D >= 2) {
            double jD[SM_JACK_GROUPS], jS[SM_JACK_GROUPS], jA[SM_JACK_GROUPS], jK[SM_JACK_GROUPS], jO[SM_JACK_GROUPS];
            int fixed[3] = {ef->p_D, ef->p_sigma, ef->p_alpha};
            int kmax = ef->p_D > ef->p_sigma ? ef->p_D : ef->p_sigma;
            if (ef->p_alpha > kmax) kmax = ef->p_alpha;
            for (int g = 0; g < G; g++) {
                cj[0] = 0;
                for (int k = 1; k <= kmax; k++) {
                    double ssum = s->eatamsd.value[k] * (double)s->eatamsd.n_tracks[k] - gsum[(size_t)g * nL + k];
                    double cnt = (double)s->eatamsd.n_tracks[k] - gcnt[(size_t)g * nL + k];
                    cj[k] = cnt > 0 ? ssum / cnt : NAN;
                }
                sm_stats_fit fg;
                fit_nan(&fg);
                sm_stats_fit_linear_p(&fg, cj, fixed[0], fixed[1], Nmed, dt, R);
                if (fixed[2] >= 4) sm_stats_fit_alpha(&fg, cj, fixed[2], dt);
                jD[g] = fg.D;
                jO[g] = fg.D_ols;
                jS[g] = fg.sigma;
                jA[g] = fg.alpha;
                jK[g] = fg.K_alpha;
            }
            double se;
            if (isfinite(se = jack_se(jD, G))) ef->D_se = se;
            if (isfinite(se = jack_se(jO, G))) ef->D_ols_se = se;
            if (isfinite(se = jack_se(jS, G))) ef->sigma_se = se;
            if (isfinite(se = jack_se(jA, G))) ef->alpha_se = se;
            if (isfinite(se = jack_se(jK, G))) ef->K_alpha_se = se;
            ef->cls = sm_stats_classify(ef->alpha, ef->alpha_se);
        }
    }
    /* pooled CVE, pooled D_r */
    double p[8] = {0};
    for (int64_t i = 0; i < s->n_tracks; i++)
        for (int q = 0; q < 8; q++) p[q] += cve[8 * i + q];
    double s2;
    sm_stats_cve(p[0], p[1], p[2], p[3], 2, dt, R, &ef->D_cve, &ef->D_cve_se, &s2);
    ef->sigma_cve = s2 >= 0 ? sqrt(s2) : NAN;
    s->ens.D_r = s->ens.D_r_se = NAN;
    if (s->has_angles) sm_stats_cve(p[4], p[5], p[6], p[7], 1, dt, R, &s->ens.D_r, &s->ens.D_r_se, &s2);
    s->ens.D = ef->D;
    s->ens.D_se = ef->D_se;
    s->ens.alpha = ef->alpha;
    s->ens.alpha_se = ef->alpha_se;
    s->ens.sigma = ef->sigma;
    s->ens.sigma_se = ef->sigma_se;
    s->ens.D_cve = ef->D_cve;
    s->ens.D_cve_se = ef->D_cve_se;
    for (int64_t i = 0; i < s->n_tracks; i++)
        if (isfinite(s->tracks[i].fit.D)) s->ens.tracks_fitted++;

    /* angular EA-TA-MSD */
    if (s->has_angles) {
        if (curve_alloc(&s->eaamsd, nL) < 0) goto done;
        average_curves(s, &s->eaamsd, 1, NULL, NULL, G, NULL);
        mark_reliable(&s->eaamsd, o);
    }

    /* dense passes: EA-MSD, VACF, van Hove */
    int M = o->vacf_max_lag;
    if (M > nL - 2) M = nL - 2 > 0 ? nL - 2 : 0;
    s->n_vh = o->n_vh_lags;
    for (int j = 0; j < s->n_vh; j++) {
        sm_stats_vanhove *vh = &s->vh[j];
        vh->lag = o->vh_lags[j];
        vh->bins = o->vh_bins;
        vh->hist_x = calloc((size_t)vh->bins, sizeof(double));
        vh->hist_y = calloc((size_t)vh->bins, sizeof(double));
        vh->hist_r = calloc((size_t)vh->bins, sizeof(double));
        if (!vh->hist_x || !vh->hist_y || !vh->hist_r) goto done;
    }
    dense_acc tot;
    memset(&tot, 0, sizeof tot);
    if (acc_alloc(&tot, nL, M, s->n_vh, G, o->vh_bins) < 0 || dense_pass(s, c, maxL, 0, &tot, nL, M, G) < 0) {
        acc_free(&tot);
        goto done;
    }
    for (int k = 0; k < nL; k++) {
        double n = tot.ea_n[k];
        s->eamsd.n_tracks[k] = (int64_t)n;
        s->eamsd.n_disp[k] = (int64_t)n;
        if (k == 0) {
            s->eamsd.value[0] = 0;
            s->eamsd.se[0] = 0;
            s->eamsd.n_tracks[0] = nn;
            continue;
        }
        double mean = n > 0 ? tot.ea_s[k] / n : NAN, var = n > 1 ? (tot.ea_ss[k] / n - mean * mean) * n / (n - 1) : NAN;
        s->eamsd.value[k] = mean;
        s->eamsd.se[k] = n > 1 && var > 0 ? sqrt(var / n) : NAN;
    }
    mark_reliable(&s->eamsd, o);
    /* VACF */
    if (curve_alloc(&s->vacf, M + 1) < 0 || !(s->vacf_fbm = calloc((size_t)M + 1, sizeof(double)))) {
        acc_free(&tot);
        goto done;
    }
    double c0 = tot.va_n[0] > 0 ? tot.va_s[0] / tot.va_n[0] : NAN;
    double al = isfinite(ef->alpha) ? ef->alpha : 1.0;
    for (int k = 0; k <= M; k++) {
        double n = tot.va_n[k];
        double mean = n > 0 ? tot.va_s[k] / n : NAN;
        double var = n > 1 ? (tot.va_ss[k] / n - mean * mean) : NAN;
        s->vacf.value[k] = mean / c0;
        s->vacf.se[k] = n > 1 && var > 0 ? sqrt(var / n) / fabs(c0) : NAN;
        s->vacf.n_disp[k] = (int64_t)n;
        s->vacf.n_tracks[k] = (int64_t)tot.va_tr[k];
        s->vacf_fbm[k] = 0.5 * (pow(k + 1.0, al) + pow(fabs(k - 1.0), al) - 2.0 * pow((double)k, al));
    }
    mark_reliable(&s->vacf, o);
    s->vacf_noise_lag1 = NAN;
    if (isfinite(ef->D) && isfinite(ef->sigma) && ef->D > 0) {
        double se2 = ef->sigma * ef->sigma - 2.0 * R * ef->D * dt;
        s->vacf_noise_lag1 = -se2 / (2.0 * ef->D * dt + 2.0 * se2);
    }
    /* van Hove: moments, then ranges, then histograms */
    for (int j = 0; j < s->n_vh; j++) {
        sm_stats_vanhove *vh = &s->vh[j];
        const double *m = tot.vh_m + j * 7;
        double n = m[0];
        vh->n = (int64_t)n;
        vh->mean_x = vh->sd_x = vh->mean_y = vh->sd_y = vh->sd_r = vh->ngp = vh->ngp_se = NAN;
        vh->lo = -1;
        vh->hi = 1;
        vh->r_hi = 1;
        if (n < 2) continue;
        vh->mean_x = m[1] / n;
        vh->mean_y = m[3] / n;
        vh->sd_x = sqrt(fmax(m[2] / n - vh->mean_x * vh->mean_x, 0));
        vh->sd_y = sqrt(fmax(m[4] / n - vh->mean_y * vh->mean_y, 0));
        vh->sd_r = sqrt((vh->sd_x * vh->sd_x + vh->sd_y * vh->sd_y) / 2.0);
        double r2 = m[5] / n, r4 = m[6] / n;
        vh->ngp = r2 > 0 ? r4 / (2.0 * r2 * r2) - 1.0 : NAN;
        double jv[SM_JACK_GROUPS];
        for (int g = 0; g < G; g++) {
            const double *gm = tot.vh_g + (j * G + g) * 3;
            double ng = n - gm[0], a2 = (m[5] - gm[1]) / ng, a4 = (m[6] - gm[2]) / ng;
            jv[g] = ng > 0 && a2 > 0 ? a4 / (2.0 * a2 * a2) - 1.0 : NAN;
        }
        vh->ngp_se = jack_se(jv, G);
        double h = fmax(fabs(vh->mean_x) + 4.5 * vh->sd_x, fabs(vh->mean_y) + 4.5 * vh->sd_y);
        if (!(h > 0)) h = 1;
        vh->lo = -h;
        vh->hi = h;
        vh->r_hi = 4.0 * sqrt(r2) > 0 ? 4.0 * sqrt(r2) : 1;
    }
    acc_free(&tot);
    memset(&tot, 0, sizeof tot);
    if (s->n_vh > 0) {
        if (acc_alloc(&tot, nL, M, s->n_vh, G, o->vh_bins) < 0 || dense_pass(s, c, maxL, 1, &tot, nL, M, G) < 0) {
            acc_free(&tot);
            goto done;
        }
        for (int j = 0; j < s->n_vh; j++) {
            sm_stats_vanhove *vh = &s->vh[j];
            const double *h = tot.hist + (size_t)j * 3 * vh->bins;
            double n = (double)vh->n;
            double wxy = (vh->hi - vh->lo) / vh->bins, wr = vh->r_hi / vh->bins;
            for (int b = 0; b < vh->bins; b++) {
                vh->hist_x[b] = n > 0 ? h[b] / (n * wxy) : 0;
                vh->hist_y[b] = n > 0 ? h[vh->bins + b] / (n * wxy) : 0;
                vh->hist_r[b] = n > 0 ? h[2 * vh->bins + b] / (n * wr) : 0;
            }
        }
        acc_free(&tot);
    }
    rc = 0;
done:
    free(gsum);
    free(gcnt);
    free(cj);
    free(ns);
    return rc;
}

int sm_stats_compute(sm_stats **out, const sm_tracks *tr, const sm_stats_options *opt, sm_error *err) {
    *out = NULL;
    sm_stats_options o;
    if (opt) o = *opt;
    else sm_stats_options_default(&o);
    if (!(o.blur_R >= 0 && o.blur_R <= 0.25))
        return sm_error_set(err, SM_EINVAL, "stats: motion-blur coefficient R = %g outside [0, 1/4]", o.blur_R);
    if (o.n_vh_lags < 0 || o.n_vh_lags > SM_STATS_MAX_VH_LAGS)
        return sm_error_set(err, SM_EINVAL, "stats: %d van Hove lags (at most %d)", o.n_vh_lags, SM_STATS_MAX_VH_LAGS);
    for (int j = 0; j < o.n_vh_lags; j++)
        if (o.vh_lags[j] < 1) return sm_error_set(err, SM_EINVAL, "stats: van Hove lag %d must be >= 1 frame", o.vh_lags[j]);
    if (o.vh_bins < 3 || o.vh_bins > 10000) o.vh_bins = 41;
    if (o.vacf_max_lag < 1 || o.vacf_max_lag > 100000) o.vacf_max_lag = 20;
    if (o.min_tracks < 1) o.min_tracks = 1;
    if (!(o.min_track_fraction >= 0 && o.min_track_fraction <= 1)) o.min_track_fraction = 0.25;
    if (!tr || tr->n <= 0) return sm_error_set(err, SM_EINVAL, "stats: the track table is empty");

    sm_stats *s = calloc(1, sizeof *s);
    row_key *keys = malloc((size_t)tr->n * sizeof *keys);
    track_span *spans = NULL;
    double *cve = NULL;
    if (!s || !keys) goto oom;
    s->opt = o;
    s->len_scale = o.px_nm > 0 ? o.px_nm : 1.0;
    s->time_scale = o.dt_s > 0 ? o.dt_s : 1.0;
    s->len_unit = o.px_nm > 0 ? "nm" : "px";
    s->time_unit = o.dt_s > 0 ? "s" : "frame";
    s->warn.rows = tr->n;
    s->warn.first_unreliable_lag = -1;
    const double dt = s->time_scale, R = o.blur_R;

    /* (1) valid rows, sorted; duplicates dropped */
    int64_t nk = 0;
    for (int64_t r = 0; r < tr->n; r++) {
        if (!isfinite(tr->x[r]) || !isfinite(tr->y[r])) {
            s->warn.nan_rows++;
            continue;
        }
        /* A simulator's truth table keeps positions of particles outside the field (visible = 0), where
         * they may wrap around; they are not observations. */
        if (tr->visible[r] == 0) {
            s->warn.hidden_rows++;
            continue;
        }
        keys[nk++] = (row_key){tr->particle[r], tr->frame[r], r};
    }
    int sorted = 1;
    for (int64_t r = 1; r < nk && sorted; r++) sorted = cmp_key(&keys[r - 1], &keys[r]) <= 0;
    if (!sorted) qsort(keys, (size_t)nk, sizeof *keys, cmp_key);
    int64_t w = 0;
    for (int64_t r = 0; r < nk; r++) {
        if (w > 0 && keys[w - 1].particle == keys[r].particle && keys[w - 1].frame == keys[r].frame) {
            s->warn.duplicate_frames++;
            continue;
        }
        keys[w++] = keys[r];
    }
    nk = w;
    int64_t ntr = 0;
    for (int64_t r = 0; r < nk; r++)
        if (r == 0 || keys[r].particle != keys[r - 1].particle) ntr++;
    if (ntr == 0) {
        sm_stats_destroy(s);
        free(keys);
        return sm_error_set(err, SM_EINVAL, "stats: no row has a finite position");
    }
    spans = calloc((size_t)ntr, sizeof *spans);
    s->tracks = calloc((size_t)ntr, sizeof *s->tracks);
    if (!spans || !s->tracks) goto oom;
    s->n_tracks = ntr;
    int64_t maxL = 1;
    for (int64_t r = 0, i = -1; r < nk; r++) {
        if (r == 0 || keys[r].particle != keys[r - 1].particle) spans[++i].start = r;
        spans[i].n++;
    }
    for (int64_t i = 0; i < ntr; i++) {
        sm_track_stats *ts = &s->tracks[i];
        const row_key *k = keys + spans[i].start;
        ts->particle = k[0].particle;
        ts->n = spans[i].n;
        ts->first_frame = k[0].frame;
        ts->last_frame = k[spans[i].n - 1].frame;
        int64_t L = ts->last_frame - ts->first_frame + 1;
        if (L > SM_MAX_SPAN) {
            free(spans);
            free(keys);
            sm_stats_destroy(s);
            return sm_error_set(err, SM_EINVAL, "stats: particle %lld spans %lld frames (at most %lld)",
                                (long long)ts->particle, (long long)L, (long long)SM_MAX_SPAN);
        }
        ts->n_lags = (int)(L - 1);
        ts->missing_frames = L - ts->n;
        if (ts->missing_frames > 0) {
            s->warn.tracks_with_gaps++;
            s->warn.missing_frames += ts->missing_frames;
        }
        if (ts->n == 1) s->warn.single_point_tracks++;
        else if (ts->n < SM_STATS_MIN_FIT_POINTS) s->warn.short_tracks++;
        if (L > maxL) maxL = L;
        fit_nan(&ts->fit);
        ts->D_r = ts->D_r_se = ts->sigma_theta = NAN;
        for (int j = 0; j < SM_STATS_MAX_VH_LAGS; j++)
            ts->ngp[j] = ts->vh_mean_x[j] = ts->vh_mean_y[j] = ts->vh_sd_x[j] = ts->vh_sd_y[j] = NAN;
    }
    for (int64_t r = 0; r < nk && !s->has_angles; r++)
        if (isfinite(tr->angle[keys[r].row])) s->has_angles = 1;
    for (int64_t i = 0; i < ntr; i++) {
        sm_track_stats *ts = &s->tracks[i];
        size_t L = (size_t)ts->n_lags + 1;
        ts->msd = malloc(L * sizeof *ts->msd);
        ts->msd_count = malloc(L * sizeof *ts->msd_count);
        if (!ts->msd || !ts->msd_count) goto oom;
        if (s->has_angles) {
            ts->amsd = malloc(L * sizeof *ts->amsd);
            if (!ts->amsd) goto oom;
        }
    }

    ctx c = {tr, keys, spans, s->len_scale, 0, 0};

    /* (2) drift: ratio estimator over tracks, len per frame */
    {
        double sdx = 0, sdy = 0, sT = 0;
        int64_t nt = 0;
        for (int64_t i = 0; i < ntr; i++) {
            const row_key *k = keys + spans[i].start;
            int64_t a = k[0].row, b = k[spans[i].n - 1].row;
            double T = (double)(k[spans[i].n - 1].frame - k[0].frame);
            if (T <= 0) continue;
            sdx += (tr->x[b] - tr->x[a]) * c.len;
            sdy += (tr->y[b] - tr->y[a]) * c.len;
            sT += T;
            nt++;
        }
        double vx = sT > 0 ? sdx / sT : NAN, vy = sT > 0 ? sdy / sT : NAN;
        double ex = 0, ey = 0;
        if (nt >= 5) {
            for (int64_t i = 0; i < ntr; i++) {
                const row_key *k = keys + spans[i].start;
                int64_t a = k[0].row, b = k[spans[i].n - 1].row;
                double T = (double)(k[spans[i].n - 1].frame - k[0].frame);
                if (T <= 0) continue;
                double rx = (tr->x[b] - tr->x[a]) * c.len - vx * T, ry = (tr->y[b] - tr->y[a]) * c.len - vy * T;
                ex += rx * rx;
                ey += ry * ry;
            }
            ex *= (double)nt / (double)(nt - 1);
            ey *= (double)nt / (double)(nt - 1);
        } else if (nt > 0) {
            /* few tracks: steps treated as independent */
            for (int64_t i = 0; i < ntr; i++) {
                const row_key *k = keys + spans[i].start;
                for (int64_t j = 1; j < spans[i].n; j++) {
                    double T = (double)(k[j].frame - k[j - 1].frame);
                    double rx = (tr->x[k[j].row] - tr->x[k[j - 1].row]) * c.len - vx * T;
                    double ry = (tr->y[k[j].row] - tr->y[k[j - 1].row]) * c.len - vy * T;
                    ex += rx * rx;
                    ey += ry * ry;
                }
            }
        }
        s->ens.drift_x = vx / dt;
        s->ens.drift_y = vy / dt;
        s->ens.drift_x_se = sT > 0 ? sqrt(ex) / sT / dt : NAN;
        s->ens.drift_y_se = sT > 0 ? sqrt(ey) / sT / dt : NAN;
        if (o.drift_subtract && sT > 0) {
            c.drift_x = vx;
            c.drift_y = vy;
            s->ens.drift_subtracted = 1;
        }
    }

    /* (3) per track, in parallel */
    cve = calloc((size_t)ntr * 8, sizeof *cve); /* (ntr, 8): s1 n1 s2 n2 for positions, then for angles */
    if (!cve) goto oom;
    int fail = 0;
    const int nvh = o.n_vh_lags;
#pragma omp parallel
    {
        size_t Lz = (size_t)maxL;
        double *x = malloc(Lz * sizeof *x), *y = malloc(Lz * sizeof *y), *th = malloc(Lz * sizeof *th);
        unsigned char *v = malloc(Lz), *vth = malloc(Lz);
        int32_t *acount = malloc(Lz * sizeof *acount);
        double *work = calloc(sm_stats_msd_work_size(maxL), sizeof *work);
        int ok = x && y && th && v && vth && acount && work;
        if (!ok) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 16)
        for (int64_t i = 0; i < ntr; i++) {
            if (!ok) continue;
            sm_track_stats *ts = &s->tracks[i];
            int64_t L = ts->n_lags + 1;
            fill_track(&c, i, x, y, v, s->has_angles ? th : NULL, s->has_angles ? vth : NULL, L);
            sm_stats_ta_msd(ts->msd, ts->msd_count, x, y, v, L, work);
            double *cv = cve + 8 * i;
            cve_sums(x, y, v, L, &cv[0], &cv[1], &cv[2], &cv[3]);
            if (ts->n >= SM_STATS_MIN_FIT_POINTS) {
                int ml = ts->n_lags < SM_FIT_MAX_P ? ts->n_lags : SM_FIT_MAX_P;
                sm_stats_fit_linear(&ts->fit, ts->msd, ml, ts->n, dt, R);
                sm_stats_fit_alpha(&ts->fit, ts->msd, alpha_points(ts->n, ts->n_lags), dt);
                double s2;
                sm_stats_cve(cv[0], cv[1], cv[2], cv[3], 2, dt, R, &ts->fit.D_cve, &ts->fit.D_cve_se, &s2);
                ts->fit.sigma_cve = s2 >= 0 ? sqrt(s2) : NAN;
            }
            for (int j = 0; j < nvh; j++) {
                int lag = o.vh_lags[j];
                double s2 = 0, s4 = 0, n = 0, sx = 0, sxx = 0, sy = 0, syy = 0;
                for (int64_t t = 0; t + lag < L; t++) {
                    if (!v[t] || !v[t + lag]) continue;
                    double dx = x[t + lag] - x[t], dy = y[t + lag] - y[t], r2 = dx * dx + dy * dy;
                    s2 += r2;
                    s4 += r2 * r2;
                    sx += dx;
                    sxx += dx * dx;
                    sy += dy;
                    syy += dy * dy;
                    n++;
                }
                if (n >= 2) {
                    ts->vh_mean_x[j] = sx / n;
                    ts->vh_mean_y[j] = sy / n;
                    ts->vh_sd_x[j] = sqrt(fmax(sxx / n - (sx / n) * (sx / n), 0));
                    ts->vh_sd_y[j] = sqrt(fmax(syy / n - (sy / n) * (sy / n), 0));
                    if (s2 > 0) ts->ngp[j] = (s4 / n) / (2.0 * (s2 / n) * (s2 / n)) - 1.0;
                }
            }
            if (s->has_angles) {
                sm_stats_ta_msd(ts->amsd, acount, th, NULL, vth, L, work);
                for (int64_t k = 0; k < L; k++)
                    if (acount[k] == 0) ts->amsd[k] = NAN;
                cve_sums(th, NULL, vth, L, &cv[4], &cv[5], &cv[6], &cv[7]);
                if (cv[5] >= 3) {
                    double s2;
                    sm_stats_cve(cv[4], cv[5], cv[6], cv[7], 1, dt, R, &ts->D_r, &ts->D_r_se, &s2);
                    ts->sigma_theta = s2 >= 0 ? sqrt(s2) : NAN;
                }
            }
        }
        free(x); free(y); free(th); free(v); free(vth); free(acount); free(work);
    }
    if (fail) goto oom;
    if (ensemble(s, &c, cve, maxL) < 0) goto oom;
    free(cve);
    free(keys);
    free(spans);
    *out = s;
    return 0;
oom:
    free(cve);
    free(keys);
    free(spans);
    sm_stats_destroy(s);
    return sm_error_set(err, SM_ENOMEM, "stats: out of memory for %lld rows", (long long)tr->n);
}
