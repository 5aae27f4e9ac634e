/* samem stats: motion statistics of particle tracks: MSDs, diffusion fits, drift, displacement
 * distributions, velocity autocorrelation, ergodicity breaking, rotation.
 *
 * Usage:
 *     sm_stats_options o;
 *     sm_stats_options_default(&o);
 *     o.px_nm = 0.85; o.dt_s = 0.04;          // units; leave <= 0 when unknown (lengths in px, times in frames)
 *     sm_stats *s;
 *     if (sm_stats_compute(&s, tracks, &o, &err) < 0) ...;
 *     printf("D = %g nm^2/s +- %g\n", s->ens.D, s->ens.D_se);
 *     sm_stats_write_json(s, "out/stats.json", &err);
 *     sm_stats_write_msd_csv(s, "out/msd.csv", &err);
 *     sm_stats_destroy(s);
 *
 * Units: lengths in nm and times in s when px_nm and dt_s are given (D in nm^2/s); otherwise px and frames
 * (s->len_unit, s->time_unit say which). Every estimate carries a standard error (_se); 95% intervals are
 * +-1.96 se. Positions are 2-D (x, y); the model for the MSD of a Brownian track with static localisation
 * error sigma and motion blur R is (Michalet 2010, Vestergaard 2014)
 *     MSD(n dt) = 4 D n dt + 4 (sigma^2 - 2 R D dt).
 * Input rows may come in any order; NaN positions and repeated frames are dropped and counted in s->warn,
 * gaps are handled through the frame numbers. Tracks of one point count but give no MSD; tracks of fewer
 * than SM_STATS_MIN_FIT_POINTS points contribute to ensemble curves but get no per-track fits (NaN).
 */
#ifndef SAMEM_STATS_H
#define SAMEM_STATS_H

#include <stdint.h>

#include "samem/common.h"
#include "samem/tracks.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SM_STATS_MAX_VH_LAGS 8
#define SM_STATS_MIN_FIT_POINTS 5

typedef struct sm_stats_options {
    double px_nm;              /* nm per px; <= 0: unknown, lengths stay in px */
    double dt_s;               /* s per frame; <= 0: unknown, times in frames */
    double blur_R;             /* motion-blur coefficient R: 1/6 continuous exposure (default), 0 flash */
    int drift_subtract;        /* 1: subtract the ensemble drift (estimated first) from every position */
    int n_vh_lags;             /* van Hove lags (frames), default 1, 2, 4 */
    int vh_lags[SM_STATS_MAX_VH_LAGS];
    int vh_bins;               /* histogram bins per distribution (default 41) */
    int vacf_max_lag;          /* frames (default 20) */
    int min_tracks;            /* ensemble points from fewer tracks are unreliable (default 5) ... */
    double min_track_fraction; /* ... or from fewer than this fraction of the tracks at lag 1 (default 0.25) */
} sm_stats_options;

void sm_stats_options_default(sm_stats_options *o);

enum { SM_DIFF_UNKNOWN = 0, SM_DIFF_SUB = 1, SM_DIFF_NORMAL = 2, SM_DIFF_SUPER = 3 };
/* "sub", "normal", "super" or "unknown". */
const char *sm_stats_class_name(int cls);

/* Fits of one MSD curve (a track's TA-MSD or the ensemble's EA-TA-MSD). NaN where not estimable. */
typedef struct sm_stats_fit {
    double D, D_se;             /* GLS on the first p_D lags, len^2/time */
    double D_ols, D_ols_se;     /* OLS on the same lags (se from the model covariance, sandwich form) */
    double sigma, sigma_se;     /* localisation error (static), len; GLS on the first p_sigma lags */
    int p_D, p_sigma;           /* Michalet's optimal numbers of lags (iterated) */
    double reduced_x;           /* sigma_eff^2 / (D dt), Michalet's reduced localisation error */
    double alpha, alpha_se;     /* MSD = 4 K t^alpha + c fitted on lags 1..p_alpha (relative weights) */
    double K_alpha, K_alpha_se; /* len^2 / time^alpha */
    double alpha_offset;        /* c, len^2 (localisation noise and blur) */
    int p_alpha;
    int cls;                    /* SM_DIFF_* from the 95% interval of alpha */
    double D_cve, D_cve_se;     /* Vestergaard's covariance estimator, len^2/time */
    double sigma_cve;           /* len (NaN when the estimate of sigma^2 is negative) */
} sm_stats_fit;

/* One track after cleaning. Curves are indexed by the lag in frames, 0..n_lags. */
typedef struct sm_track_stats {
    int64_t particle;
    int64_t n;                  /* valid points */
    int64_t first_frame, last_frame;
    int64_t missing_frames;     /* frames inside [first, last] without a valid point */
    int n_lags;                 /* last_frame - first_frame */
    double *msd;                /* (n_lags + 1) TA-MSD, len^2; NaN where no pair has that lag */
    int32_t *msd_count;         /* (n_lags + 1) displacements averaged */
    double *amsd;               /* (n_lags + 1) angular TA-MSD, rad^2; NULL without angles */
    sm_stats_fit fit;
    double D_r, D_r_se;         /* rotational diffusion, rad^2/time (CVE on unwrapped angles); NaN without */
    double sigma_theta;         /* angular localisation error, rad */
    /* per-track van Hove at each of the options' lags: Gaussian fits (ML mean and sd, len) and the 2-D
     * non-Gaussian parameter; NaN with fewer than 2 displacements */
    double vh_mean_x[SM_STATS_MAX_VH_LAGS], vh_sd_x[SM_STATS_MAX_VH_LAGS];
    double vh_mean_y[SM_STATS_MAX_VH_LAGS], vh_sd_y[SM_STATS_MAX_VH_LAGS];
    double ngp[SM_STATS_MAX_VH_LAGS];
} sm_track_stats;

/* An ensemble curve over lags 0..n-1 (frames). */
typedef struct sm_stats_curve {
    int n;
    double *value, *se;         /* (n) */
    int64_t *n_disp;            /* (n) displacements contributing */
    int64_t *n_tracks;          /* (n) tracks contributing */
    unsigned char *reliable;    /* (n) 1 where enough tracks contribute (see options) */
} sm_stats_curve;

/* Displacement distribution at one lag, pooled over tracks. */
typedef struct sm_stats_vanhove {
    int lag;                    /* frames */
    int64_t n;                  /* displacements */
    double mean_x, sd_x, mean_y, sd_y; /* Gaussian fits (maximum likelihood), len */
    double sd_r;                /* Rayleigh scale of the step length, sqrt(<dx^2+dy^2>/2) (centred), len */
    double ngp, ngp_se;         /* 2-D non-Gaussian parameter <r^4>/(2<r^2>^2) - 1, se by jackknife */
    int bins;
    double lo, hi;              /* range of the dx and dy histograms, len */
    double r_hi;                /* range of the step-length histogram [0, r_hi], len */
    double *hist_x, *hist_y;    /* (bins) probability density, 1/len */
    double *hist_r;             /* (bins) probability density of |dr| */
} sm_stats_vanhove;

typedef struct sm_stats_ensemble {
    sm_stats_fit fit;           /* fits of the EA-TA-MSD; se by jackknife over 10 groups of tracks when there are
                                 * >= 10 tracks, else the model covariance of one track / number of tracks */
    double D, D_se, alpha, alpha_se, sigma, sigma_se, D_cve, D_cve_se; /* copies of the headline numbers */
    double drift_x, drift_y, drift_x_se, drift_y_se; /* len/time, ensemble-mean velocity */
    int drift_subtracted;
    double D_r, D_r_se;         /* pooled over tracks with angles, rad^2/time */
    int tracks_fitted;          /* tracks with per-track fits */
} sm_stats_ensemble;

typedef struct sm_stats_warnings {
    int64_t rows;               /* rows read */
    int64_t nan_rows;           /* dropped: x or y NaN/inf */
    int64_t hidden_rows;        /* dropped: visible == 0 (ground-truth rows of particles outside the field) */
    int64_t duplicate_frames;   /* dropped: a second row for the same particle and frame */
    int64_t single_point_tracks;
    int64_t short_tracks;       /* 2 .. SM_STATS_MIN_FIT_POINTS-1 points: no per-track fit */
    int64_t tracks_with_gaps;
    int64_t missing_frames;
    int64_t nan_angles;         /* rows with a position but no angle (in tracks that have angles) */
    int first_unreliable_lag;   /* frames; -1 when every ensemble lag is reliable */
} sm_stats_warnings;

typedef struct sm_stats {
    sm_stats_options opt;
    const char *len_unit;       /* "nm" or "px" */
    const char *time_unit;      /* "s" or "frame" */
    double len_scale, time_scale; /* len per px, time per frame */
    int64_t n_tracks;
    sm_track_stats *tracks;     /* (n_tracks), by particle */
    sm_stats_curve eatamsd;     /* ensemble-averaged TA-MSD, len^2 */
    sm_stats_curve eamsd;       /* ensemble-averaged MSD from each track's first frame, len^2 */
    sm_stats_curve eaamsd;      /* ensemble-averaged angular TA-MSD, rad^2 (n = 0 without angles) */
    sm_stats_curve vacf;        /* normalised velocity autocorrelation, lags 0..vacf_max_lag */
    double *vacf_fbm;           /* (vacf.n) fBm expectation at the fitted alpha */
    double vacf_noise_lag1;     /* lag-1 value expected for Brownian motion with the fitted D, sigma, R */
    sm_stats_curve eb;          /* ergodicity-breaking parameter per lag (value), se NaN */
    double *eb_brownian;        /* (eb.n) expectation for 2-D Brownian motion 2n/(3T) (T mean track span) */
    int n_vh;
    sm_stats_vanhove vh[SM_STATS_MAX_VH_LAGS];
    sm_stats_ensemble ens;
    sm_stats_warnings warn;
    int has_angles;
} sm_stats;

/* Computes everything. tracks is only read. Returns 0, or SM_EINVAL (no track with two points, bad options)
 * or SM_ENOMEM. */
int sm_stats_compute(sm_stats **out, const sm_tracks *tracks, const sm_stats_options *opt, sm_error *err);
void sm_stats_destroy(sm_stats *s);

/* stats.json: {"units", "ensemble", "tracks", "van_hove", "vacf", "ergodicity", "warnings", "options"}. */
int sm_stats_write_json(const sm_stats *s, const char *path, sm_error *err);
/* msd.csv: one row per (particle, lag); particle -1 rows are the ensemble curves (kind ea_ta, ea, angular). */
int sm_stats_write_msd_csv(const sm_stats *s, const char *path, sm_error *err);

/* ---- building blocks, exposed for tests and for other modules ---- */

/* TA-MSD of one track over every lag 0..L-1, where frame offset t (0..L-1) holds (x[t], y[t]) when
 * valid[t]. y may be NULL (1-D, e.g. angles). ssd (L) receives the mean squared displacement (NaN where
 * no pair), count (L) the number of pairs. Uses FFT correlations of the masked signals (O(L log L)) for
 * long tracks and the direct sums for short ones. work holds at least sm_stats_msd_work_size(L) doubles,
 * zeroed before the first call and kept for this function only (it caches FFT twiddle factors). */
size_t sm_stats_msd_work_size(int64_t L);
void sm_stats_ta_msd(double *msd, int32_t *count, const double *x, const double *y, const unsigned char *valid,
                     int64_t L, double *work);

/* Michalet 2010's optimal numbers of MSD points for the slope (p_D) and intercept (p_sigma) given N points and
 * the reduced localisation error x = sigma^2/(D dt). */
void sm_stats_michalet_points(int64_t N, double x, int *p_D, int *p_sigma);

#ifdef __cplusplus
}
#endif
#endif
