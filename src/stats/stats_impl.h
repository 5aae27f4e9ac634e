/* Helpers shared inside src/stats (not public). */
#ifndef SM_STATS_IMPL_H
#define SM_STATS_IMPL_H

#include "samem/stats.h"

/* Largest number of lags a linear MSD fit uses (bounds the GLS covariance work). */
#define SM_FIT_MAX_P 64

/* Fills the MSD-fit members of f (D, D_ols, sigma, p_D, p_sigma, reduced_x) from the curve msd[1..maxlag]
 * (len^2, lag n frames, time n*dt) of a track (or ensemble) with N points per track. Needs >= 2 lags. */
void sm_stats_fit_linear(sm_stats_fit *f, const double *msd, int maxlag, int64_t N, double dt, double R);

/* The same with the numbers of lags fixed (p for D, pa for sigma; both >= 2 and finite there). */
void sm_stats_fit_linear_p(sm_stats_fit *f, const double *msd, int p, int pa, int64_t N, double dt, double R);

/* alpha and K_alpha: weighted fit of MSD = 4 K t^alpha + c on lags 1..p (p >= 3). */
void sm_stats_fit_alpha(sm_stats_fit *f, const double *msd, int p, double dt);

/* Vestergaard's CVE from sums over steps of one or more tracks:
 * s1 = sum of squared steps, n1 their count, s2 = sum of products of successive steps, n2 their count (all
 * per dimension, pooled over dims); dims = number of dimensions pooled. Writes D, se and sigma^2. */
void sm_stats_cve(double s1, double n1, double s2, double n2, int dims, double dt, double R, double *D,
                  double *D_se, double *sigma2);

/* Class from alpha and its se. */
int sm_stats_classify(double alpha, double alpha_se);

#endif
