/* Sub-pixel refinement: fit a particle's shape model, blurred by the imaging point-spread function, to the
 * frame around its mask, for centre, orientation and size with uncertainties.
 *
 * Model (px, raw units): I(x, y) = B + Bx (x - x0c) + By (y - y0c) + A * Phi(-d(x, y) / s)
 *   d   signed distance to the shape's boundary (negative inside), Phi the normal CDF, s the edge blur (px):
 *       a Gaussian PSF blurring a sharp-edged particle, whose boundary sits at the half-contrast point.
 *   ellipse (disk when a = b): centre, angle, semi-axes a >= b; d from the first-order distance
 *       (rho - 1) * rho / |grad rho| with rho^2 = u^2/a^2 + v^2/b^2 (exact for circles, close for ellipses);
 *   spherocylinder: centre, angle, half-length L of the core segment, radius r; d = dist(segment) - r;
 *   regular polygon (triangle, square, hexagon) stretched along its axes: centre, angle, inradii a and b;
 *       d = (max_k n_k . (u/a, v/b) - 1) sqrt(ab), the largest distance to an edge's line (exact inside and
 *       along the edges; the simulator draws faceted particles the same way).
 * Levenberg-Marquardt on the pixels of the mask's bounding box plus a margin, analytic Jacobian,
 * covariance s2 (J^T J)^-1 with s2 the residual variance (Cramer-Rao for white Gaussian noise; spatially
 * correlated noise makes the errors optimistic by roughly its correlation length).
 * References: Press et al., Numerical Recipes 3rd ed. section 15.5 (Levenberg-Marquardt); Ober, Ram & Ward,
 * Biophys J 86 (2004) 1185 (localisation accuracy limits).
 * Shape choice (SM_SHAPE_AUTO): the ellipse; the spherocylinder when the mask is elongated and its residual
 * sum is lower by SM__ROD_MARGIN (4) noise variances; a polygon when its residual sum is lower than the smooth
 * models' by more than 12 noise variances (likelihood-ratio margins: at low contrast-to-noise the simpler
 * model stays). Polygons start from two
 * rotations half a symmetry period apart, or from a previous fit's (sm__refine_mask's hint).
 * Left out: joint fits over several frames. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

#define NP 10 /* cx, cy, phi, p1, p2, A, B, Bx, By, log s */
#define SM__ROD_MARGIN 4.0 /* residual variances */
#define SM__ROD_TRY_MAJOR 40.0 /* px: masks this long are also fitted as rods however compact they are */

typedef struct fit_data {
    int n;           /* pixels */
    const float *v;  /* (n) values */
    const float *px; /* (n) x */
    const float *py; /* (n) y */
    double xc, yc;   /* reference point for the background plane */
    sm_shape_kind shape;
} fit_data;

/* 0.5 * erfc(u) for the edge profile, Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7): the fit
 * evaluates it a million times per frame, and libm's erfc dominated the profile. */
static inline double half_erfc(double u) {
    double a = fabs(u);
    if (a > 5.0) return u >= 0 ? 0.0 : 1.0; /* erfc(5) = 1.5e-12 */
    double t = 1.0 / (1.0 + 0.3275911 * a);
    double y = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * exp(-a * a);
    return u >= 0 ? 0.5 * y : 1.0 - 0.5 * y;
}

/* The model at every pixel of d into out (n values); trigonometry and exponentials hoisted. */
static int polygon_sides(sm_shape_kind k) {
    return k == SM_SHAPE_TRIANGLE ? 3 : k == SM_SHAPE_SQUARE ? 4 : k == SM_SHAPE_HEXAGON ? 6 : 0;
}

/* Signed distance to a stretched regular polygon with edge normals (nx[k], ny[k]) in the model frame. */
static inline double polygon_dist(double u, double v, double a, double b, int sides, const double *nx, const double *ny) {
    double X = u / a, Y = v / b, m = -1e300;
    for (int k = 0; k < sides; k++) {
        double e = nx[k] * X + ny[k] * Y;
        if (e > m) m = e;
    }
    return (m - 1) * sqrt(a * b);
}

static void polygon_normals(int sides, double *nx, double *ny) {
    for (int k = 0; k < sides; k++) nx[k] = cos(2 * M_PI * k / sides), ny[k] = sin(2 * M_PI * k / sides);
}

static void model_all(const double *p, const fit_data *d, double *out) {
    double c = cos(p[2]), s = sin(p[2]);
    double inv = 1.0 / (exp(p[9]) * M_SQRT2);
    int sides = polygon_sides(d->shape);
    if (sides) {
        double nx[6], ny[6], a = fabs(p[3]) + 1e-6, b = fabs(p[4]) + 1e-6;
        polygon_normals(sides, nx, ny);
        for (int i = 0; i < d->n; i++) {
            double dx = d->px[i] - p[0], dy = d->py[i] - p[1];
            double u = c * dx + s * dy, v = -s * dx + c * dy;
            double dist = polygon_dist(u, v, a, b, sides, nx, ny);
            out[i] = p[6] + p[7] * (d->px[i] - d->xc) + p[8] * (d->py[i] - d->yc) + p[5] * half_erfc(dist * inv);
        }
        return;
    }
    if (d->shape == SM_SHAPE_SPHEROCYL) {
        double L = fabs(p[3]), r = fabs(p[4]);
        for (int i = 0; i < d->n; i++) {
            double dx = d->px[i] - p[0], dy = d->py[i] - p[1];
            double u = c * dx + s * dy, v = -s * dx + c * dy;
            double uu = fabs(u) > L ? fabs(u) - L : 0;
            double dist = sqrt(uu * uu + v * v) - r;
            out[i] = p[6] + p[7] * (d->px[i] - d->xc) + p[8] * (d->py[i] - d->yc) + p[5] * half_erfc(dist * inv);
        }
        return;
    }
    double a = fabs(p[3]) + 1e-6, b = fabs(p[4]) + 1e-6;
    double ia2 = 1 / (a * a), ib2 = 1 / (b * b), mn = fmin(a, b);
    for (int i = 0; i < d->n; i++) {
        double dx = d->px[i] - p[0], dy = d->py[i] - p[1];
        double u = c * dx + s * dy, v = -s * dx + c * dy;
        double rho2 = u * u * ia2 + v * v * ib2;
        double dist;
        if (rho2 < 1e-18) {
            dist = -mn;
        } else {
            double rho = sqrt(rho2);
            double g = sqrt(u * u * ia2 * ia2 + v * v * ib2 * ib2) / rho; /* |grad rho| */
            dist = (rho - 1) / g;
        }
        out[i] = p[6] + p[7] * (d->px[i] - d->xc) + p[8] * (d->py[i] - d->yc) + p[5] * half_erfc(dist * inv);
    }
}

static double rss(const double *p, const fit_data *d, double *res, double *tmp) {
    model_all(p, d, tmp);
    double s = 0;
    for (int i = 0; i < d->n; i++) {
        double r = d->v[i] - tmp[i];
        if (res) res[i] = r;
        s += r * r;
    }
    return s;
}

/* Jacobian of the model (n x NP), analytic: the profile A * h(z) with z = dist / (s sqrt 2) gives
 * dA: h, dB: 1, dBx, dBy: the plane's coordinates, dlog s: A h'(z) (-z), and for the geometry (centre,
 * angle, p3, p4) A h'(z) / (s sqrt 2) * d dist; h'(z) = -exp(-z^2) / sqrt(pi). Forward differences cost ten
 * model evaluations per iteration and were most of a session's time (tests/model/test_refine.c checks
 * these derivatives against central differences). */
static void jacobian(const double *p, const fit_data *d, double *J) {
    double c = cos(p[2]), s = sin(p[2]);
    double inv = 1.0 / (exp(p[9]) * M_SQRT2);
    int sides = polygon_sides(d->shape);
    double nx[6], ny[6];
    if (sides) polygon_normals(sides, nx, ny);
    double s3 = p[3] >= 0 ? 1 : -1, s4 = p[4] >= 0 ? 1 : -1;
    double a = fabs(p[3]) + 1e-6, b = fabs(p[4]) + 1e-6;
    for (int i = 0; i < d->n; i++) {
        double dx = d->px[i] - p[0], dy = d->py[i] - p[1];
        double u = c * dx + s * dy, v = -s * dx + c * dy;
        /* dist and its partials in u, v, p3, p4 */
        double dist, du = 0, dv = 0, d3 = 0, d4 = 0;
        if (sides) {
            double X = u / a, Y = v / b, m = -1e300;
            int kk = 0;
            for (int k = 0; k < sides; k++) {
                double e = nx[k] * X + ny[k] * Y;
                if (e > m) m = e, kk = k;
            }
            double q = sqrt(a * b);
            dist = (m - 1) * q;
            du = q * nx[kk] / a, dv = q * ny[kk] / b;
            d3 = s3 * (-q * nx[kk] * u / (a * a) + (m - 1) * 0.5 * sqrt(b / a));
            d4 = s4 * (-q * ny[kk] * v / (b * b) + (m - 1) * 0.5 * sqrt(a / b));
        } else if (d->shape == SM_SHAPE_SPHEROCYL) {
            double L = fabs(p[3]), r = fabs(p[4]);
            int past = fabs(u) > L;
            double uu = past ? fabs(u) - L : 0;
            double R = sqrt(uu * uu + v * v);
            dist = R - r;
            if (R > 0) {
                du = past ? uu * (u >= 0 ? 1 : -1) / R : 0;
                dv = v / R;
                d3 = past ? -s3 * uu / R : 0;
            }
            d4 = -s4;
        } else {
            double ia2 = 1 / (a * a), ib2 = 1 / (b * b);
            double rho2 = u * u * ia2 + v * v * ib2;
            if (rho2 < 1e-18) {
                dist = -fmin(a, b);
                if (a <= b) d3 = -s3;
                else d4 = -s4;
            } else {
                /* dist = (rho - 1) / (|grad rho^2|/(2 rho)) = (rho^2 - rho) / sqrt(G2), G2 = u^2/a^4 + v^2/b^4 */
                double rho = sqrt(rho2);
                double G2 = u * u * ia2 * ia2 + v * v * ib2 * ib2, G = sqrt(G2);
                double N = rho2 - rho;
                dist = N / G;
                double k = 1 - 0.5 / rho; /* dN = k drho2 */
                double r_u = 2 * u * ia2, r_v = 2 * v * ib2, r_a = -2 * u * u * ia2 / a, r_b = -2 * v * v * ib2 / b;
                double g_u = 2 * u * ia2 * ia2, g_v = 2 * v * ib2 * ib2, g_a = -4 * u * u * ia2 * ia2 / a,
                       g_b = -4 * v * v * ib2 * ib2 / b;
                double f = N / (2 * G2 * G);
                du = k * r_u / G - f * g_u;
                dv = k * r_v / G - f * g_v;
                d3 = s3 * (k * r_a / G - f * g_a);
                d4 = s4 * (k * r_b / G - f * g_b);
            }
        }
        double z = dist * inv;
        double h = half_erfc(z), dh = -exp(-z * z) * M_2_SQRTPI * 0.5;
        double g = p[5] * dh * inv; /* d model / d dist */
        double *row = J + (size_t)i * NP;
        row[0] = g * (du * -c + dv * s);
        row[1] = g * (du * -s + dv * -c);
        row[2] = g * (du * v - dv * u);
        row[3] = g * d3;
        row[4] = g * d4;
        row[5] = h;
        row[6] = 1;
        row[7] = d->px[i] - d->xc;
        row[8] = d->py[i] - d->yc;
        row[9] = p[5] * dh * -z;
    }
}

/* For tests: the largest difference between the analytic Jacobian and central differences of model_all,
 * relative to the column's largest entry, at parameters p on a w x h grid. */
double sm__refine_jacobian_error(sm_shape_kind shape, const double *p, int w, int h) {
    int n = w * h;
    float *px = malloc(sizeof(float) * n), *py = malloc(sizeof(float) * n);
    double *J = malloc(sizeof(double) * n * NP), *hi = malloc(sizeof(double) * n), *lo = malloc(sizeof(double) * n);
    double worst = INFINITY;
    if (px && py && J && hi && lo) {
        for (int i = 0; i < n; i++) px[i] = (float)(i % w), py[i] = (float)(i / w);
        fit_data d = {.n = n, .px = px, .py = py, .xc = w / 2.0, .yc = h / 2.0, .shape = shape};
        jacobian(p, &d, J);
        worst = 0;
        for (int k = 0; k < NP; k++) {
            double q[NP], step = 1e-5 * fmax(1.0, fabs(p[k])), big = 1e-12, diff = 0;
            memcpy(q, p, sizeof q);
            q[k] = p[k] + step;
            model_all(q, &d, hi);
            q[k] = p[k] - step;
            model_all(q, &d, lo);
            for (int i = 0; i < n; i++) {
                double num = (hi[i] - lo[i]) / (2 * step);
                big = fmax(big, fabs(num));
                diff = fmax(diff, fabs(num - J[(size_t)i * NP + k]));
            }
            worst = fmax(worst, diff / big);
        }
    }
    free(px), free(py), free(J), free(hi), free(lo);
    return worst;
}

/* Cholesky solve of (n x n) M x = b; returns -1 if M is not positive definite. M is overwritten. */
static int chol_solve(double *M, int n, double *b) {
    for (int j = 0; j < n; j++) {
        double s = M[j * n + j];
        for (int k = 0; k < j; k++) s -= M[j * n + k] * M[j * n + k];
        if (!(s > 0)) return -1;
        M[j * n + j] = sqrt(s);
        for (int i = j + 1; i < n; i++) {
            double t = M[i * n + j];
            for (int k = 0; k < j; k++) t -= M[i * n + k] * M[j * n + k];
            M[i * n + j] = t / M[j * n + j];
        }
    }
    for (int i = 0; i < n; i++) {
        double t = b[i];
        for (int k = 0; k < i; k++) t -= M[i * n + k] * b[k];
        b[i] = t / M[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) {
        double t = b[i];
        for (int k = i + 1; k < n; k++) t -= M[k * n + i] * b[k];
        b[i] = t / M[i * n + i];
    }
    return 0;
}

/* Levenberg-Marquardt; returns the final rss, fills cov (NP x NP) diagonal etc. J holds n*NP doubles. */
static double lm_fit(double *p, const fit_data *d, double *J, double *res, double *tmp, double *cov_diag, double *cov_xy, int *ok) {
    double lambda = 1e-2;
    double cur = rss(p, d, res, tmp);
    *ok = 0;
    double JtJ[NP * NP], Jtr[NP];
    for (int it = 0; it < 12; it++) {
        jacobian(p, d, J);
        memset(JtJ, 0, sizeof JtJ);
        memset(Jtr, 0, sizeof Jtr);
        for (int i = 0; i < d->n; i++) {
            const double *row = J + (size_t)i * NP;
            for (int a = 0; a < NP; a++) {
                Jtr[a] += row[a] * res[i];
                for (int b = 0; b <= a; b++) JtJ[a * NP + b] += row[a] * row[b];
            }
        }
        for (int a = 0; a < NP; a++)
            for (int b = a + 1; b < NP; b++) JtJ[a * NP + b] = JtJ[b * NP + a];
        int improved = 0;
        for (int tries = 0; tries < 8; tries++) {
            double M[NP * NP], step[NP];
            memcpy(M, JtJ, sizeof M);
            for (int a = 0; a < NP; a++) M[a * NP + a] += lambda * (JtJ[a * NP + a] + 1e-9);
            memcpy(step, Jtr, sizeof step);
            if (chol_solve(M, NP, step) < 0) {
                lambda *= 10;
                continue;
            }
            double q[NP];
            for (int a = 0; a < NP; a++) q[a] = p[a] + step[a];
            if (q[9] < log(0.3)) q[9] = log(0.3);
            if (q[9] > log(20.0)) q[9] = log(20.0);
            double r2 = rss(q, d, NULL, tmp);
            if (r2 < cur) {
                double rel = (cur - r2) / cur;
                memcpy(p, q, sizeof q);
                cur = rss(p, d, res, tmp);
                lambda = fmax(lambda / 3, 1e-7);
                improved = 1;
                if (rel < 1e-5) it = 1000;
                break;
            }
            lambda *= 4;
        }
        if (!improved) break;
    }
    /* covariance at the optimum */
    jacobian(p, d, J);
    memset(JtJ, 0, sizeof JtJ);
    for (int i = 0; i < d->n; i++) {
        const double *row = J + (size_t)i * NP;
        for (int a = 0; a < NP; a++)
            for (int b = 0; b < NP; b++) JtJ[a * NP + b] += row[a] * row[b];
    }
    double s2 = cur / (d->n > NP ? d->n - NP : 1);
    /* invert JtJ column by column */
    for (int c = 0; c < NP; c++) {
        double M[NP * NP], e[NP] = {0};
        memcpy(M, JtJ, sizeof M);
        e[c] = 1;
        if (chol_solve(M, NP, e) < 0) return cur;
        cov_diag[c] = e[c] * s2;
        if (c == 0) *cov_xy = e[1] * s2;
    }
    *ok = 1;
    return cur;
}

/* One candidate fit of model sh from the start p (NP values); keeps it in *best when its residual, scaled by
 * `handicap`, is the lowest so far and it passed the sanity checks. */
typedef struct best_fit {
    double rss, p[NP], var[NP];
    sm_shape_kind shape;
} best_fit;

static void try_fit(fit_data *d, sm_shape_kind sh, const double *start, double handicap, double cx, double cy,
                    double major, double minor, double A, double *J, double *res, double *mtmp, best_fit *best) {
    d->shape = sh;
    double p[NP], var[NP] = {0}, cxy = 0;
    memcpy(p, start, sizeof p);
    int ok;
    double r = lm_fit(p, d, J, res, mtmp, var, &cxy, &ok);
    if (!ok) return;
    /* sanity: the centre stays near the mask, sizes stay positive and sensible, the sign holds */
    double move = hypot(p[0] - cx, p[1] - cy);
    if (move > fmax(3.0, 0.5 * minor) || !(fabs(p[3]) < 2 * major + 5) || !(fabs(p[4]) < 2 * major + 5) ||
        !(fabs(p[3]) > 0.2) || !(fabs(p[4]) > 0.2) || p[5] * A < 0 || !isfinite(r))
        return;
    if (r * handicap < best->rss) {
        best->rss = r * handicap, best->shape = sh;
        memcpy(best->p, p, sizeof p);
        memcpy(best->var, var, sizeof var);
    }
}

/* The fit itself, on a crop mask (cm may be NULL when start is given); hint: a previous fit of the same
 * particle (its model and rotation are tried alone, saving the search over models), or NULL. */
int sm__refine_mask(const float *frame, int width, int height, const sm__crop_mask *cm, const sm_refine_result *start,
                    sm_shape_kind shape, const sm_refine_result *hint, sm_refine_result *out, sm_error *err) {
    memset(out, 0, sizeof *out);
    out->x_err = out->y_err = out->angle_err = out->major_err = out->minor_err = NAN;
    double cx, cy, angle, major, minor, area;
    int bx0, by0, bx1, by1;
    if (cm && cm->w > 0) {
        sm__moments mo;
        sm__mask_moments(cm->m, cm->w, cm->h, &mo);
        if (mo.area < 3) return sm_error_set(err, SM_EINVAL, "refine: the mask has %g px", mo.area);
        cx = cm->x0 + mo.x, cy = cm->y0 + mo.y, angle = mo.angle, major = mo.major, minor = fmax(mo.minor, 0.4);
        area = mo.area;
        bx0 = cm->x0, by0 = cm->y0, bx1 = cm->x0 + cm->w - 1, by1 = cm->y0 + cm->h - 1;
    } else {
        if (!start) return sm_error_set(err, SM_EINVAL, "refine: neither a mask nor a start");
        cm = NULL;
        cx = start->x, cy = start->y, angle = start->angle, major = start->major, minor = start->minor;
        area = M_PI / 4 * major * minor;
        bx0 = (int)floor(cx - major / 2), bx1 = (int)ceil(cx + major / 2);
        by0 = (int)floor(cy - major / 2), by1 = (int)ceil(cy + major / 2);
    }
    out->x = cx, out->y = cy, out->angle = angle, out->major = major, out->minor = minor;
    out->shape = SM_SHAPE_NONE;
    if (shape == SM_SHAPE_NONE) return 0;
    int margin = (int)ceil(fmax(4.0, 0.35 * minor)) + 2;
    int x0 = bx0 - margin, x1 = bx1 + margin, y0 = by0 - margin, y1 = by1 + margin;
    sm__clip_box(&x0, &y0, &x1, &y1, width, height);
    int w = x1 - x0 + 1, h = y1 - y0 + 1;
    if (w < 5 || h < 5) return 0;
    size_t n = (size_t)w * h;
    float *v = malloc(n * sizeof(float)), *px = malloc(n * sizeof(float)), *py = malloc(n * sizeof(float));
    double *J = malloc(n * NP * sizeof(double)), *res = malloc(n * sizeof(double)), *mtmp = malloc(n * sizeof(double));
    float *tmp = malloc(n * sizeof(float));
    if (!v || !px || !py || !J || !res || !tmp || !mtmp) {
        free(v), free(px), free(py), free(J), free(res), free(tmp), free(mtmp);
        return sm_error_set(err, SM_ENOMEM, "refine: out of memory");
    }
    double in_sum = 0, out_sum = 0;
    int in_n = 0, out_n = 0;
    size_t k = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            v[k] = frame[(size_t)y * width + x];
            px[k] = (float)x, py[k] = (float)y;
            int inside = cm ? (x >= cm->x0 && y >= cm->y0 && x < cm->x0 + cm->w && y < cm->y0 + cm->h &&
                               cm->m[(size_t)(y - cm->y0) * cm->w + (x - cm->x0)])
                            : hypot(x - cx, y - cy) < minor / 2;
            if (inside) in_sum += v[k], in_n++;
            else out_sum += v[k], out_n++;
            k++;
        }
    /* noise from pixel differences in the window */
    out->noise = sm__noise_std(v, w, h, 1, tmp);
    double B = out_n ? out_sum / out_n : 0, A = in_n ? in_sum / in_n - B : 0;
    if (start && !cm && start->amplitude != 0) A = start->amplitude, B = start->background;
    fit_data d = {.n = (int)n, .v = v, .px = px, .py = py, .xc = (x0 + x1) / 2.0, .yc = (y0 + y1) / 2.0};
    double phi = -angle; /* image-frame angle */
    double p0[NP];
    p0[0] = cx, p0[1] = cy, p0[5] = A, p0[6] = B, p0[7] = p0[8] = 0, p0[9] = log(1.0);
    best_fit smooth = {.rss = INFINITY, .shape = SM_SHAPE_NONE}, poly = smooth, rod = smooth;
    int use_hint = hint && hint->ok && (shape == SM_SHAPE_AUTO || shape == hint->shape);
    /* smooth models */
    for (int which = 0; which < 2; which++) {
        sm_shape_kind sh = which == 0 ? SM_SHAPE_ELLIPSE : SM_SHAPE_SPHEROCYL;
        if (use_hint && polygon_sides(hint->shape)) break;
        if (use_hint && hint->shape != sh) continue; /* the hint's model alone, as for polygons */
        if (shape != SM_SHAPE_AUTO && shape != sh) continue;
        /* a compact mask is no rod, unless the hint says it is (a fast large rod's mask on its second frame
         * was a 106 x 75 px blob; skipped, its fit failed, and the search then took an ellipse for 4 frames),
         * or it is large: the network sees large particles area-averaged, and its first mask of the weak
         * 106 x 43 px rod was a 100 x 64 px blob, fitted as an ellipse for 20 frames (mean IoU 0.863; with the
         * rod tried 0.899, and the ellipse still wins where it fits better) */
        if (!use_hint && shape == SM_SHAPE_AUTO && sh == SM_SHAPE_SPHEROCYL && major < 1.6 * minor &&
            major < SM__ROD_TRY_MAJOR)
            continue;
        p0[2] = phi;
        if (sh == SM_SHAPE_ELLIPSE) p0[3] = major / 2, p0[4] = minor / 2;
        else p0[3] = fmax(0.5, (major - minor) / 2), p0[4] = minor / 2;
        try_fit(&d, sh, p0, 1.0, cx, cy, major, minor, A, J, res, mtmp, which ? &rod : &smooth);
    }
    /* the spherocylinder wins over the ellipse by a margin of residual in noise variances (both have the same
     * parameters): a margin relative to the residual sum, as before, kept the ellipse for every rod at low
     * contrast-to-noise, where the whole window's noise outweighs the difference at the rod's ends */
    if (rod.shape != SM_SHAPE_NONE) {
        double s2 = smooth.shape != SM_SHAPE_NONE ? smooth.rss / (n > NP ? (double)(n - NP) : 1.0) : 0;
        if (smooth.shape == SM_SHAPE_NONE || rod.rss < smooth.rss - SM__ROD_MARGIN * s2) smooth = rod;
    }
    /* polygons: the hint's, or each kind from three rotations when the mask is compact (faceted particles
     * in the simulator and in real videos are near-regular) */
    for (int kind = SM_SHAPE_TRIANGLE; kind <= SM_SHAPE_HEXAGON; kind++) {
        int sides = polygon_sides((sm_shape_kind)kind);
        if (shape != SM_SHAPE_AUTO && shape != (sm_shape_kind)kind) continue;
        if (use_hint && hint->shape != (sm_shape_kind)kind) continue;
        if (!use_hint && shape == SM_SHAPE_AUTO && major > 1.6 * minor) continue;
        /* inradius of the regular polygon with the mask's area: area = n r^2 tan(pi / n) */
        double r0 = sqrt(fmax(area, 4) / (sides * tan(M_PI / sides)));
        int starts = use_hint ? 1 : 2;
        for (int st = 0; st < starts; st++) {
            p0[2] = use_hint ? hint->phi : 2 * M_PI / sides * st / 2.0;
            p0[3] = use_hint ? hint->size_a : r0, p0[4] = use_hint ? hint->size_b : r0;
            try_fit(&d, (sm_shape_kind)kind, p0, 1.0, cx, cy, major, minor, A, J, res, mtmp, &poly);
        }
    }
    free(v), free(px), free(py), free(J), free(res), free(tmp), free(mtmp);
    best_fit *bf = &smooth;
    if (poly.shape != SM_SHAPE_NONE) {
        /* a polygon wins over a smooth model only by a clear margin of residual (12 residual variances) */
        double s2 = smooth.shape != SM_SHAPE_NONE ? smooth.rss / (n > NP ? (double)(n - NP) : 1.0) : 0;
        if (smooth.shape == SM_SHAPE_NONE || poly.rss < smooth.rss - 12 * s2) bf = &poly;
    }
    if (bf->shape == SM_SHAPE_NONE) return 0;
    double *p = bf->p, *var = bf->var;
    double a = fabs(p[3]), b = fabs(p[4]);
    double ph = p[2];
    out->phi = ph, out->size_a = a, out->size_b = b;
    double maj, mnr, maj_err, mnr_err, period = M_PI;
    int sides = polygon_sides(bf->shape);
    if (bf->shape == SM_SHAPE_ELLIPSE) {
        maj_err = 2 * sqrt(var[3]), mnr_err = 2 * sqrt(var[4]);
        if (b > a) {
            double t = a;
            a = b, b = t;
            t = maj_err, maj_err = mnr_err, mnr_err = t;
            ph += M_PI / 2;
        }
        maj = 2 * a, mnr = 2 * b;
    } else if (bf->shape == SM_SHAPE_SPHEROCYL) {
        maj = 2 * (a + b), mnr = 2 * b;
        maj_err = 2 * sqrt(var[3] + var[4]), mnr_err = 2 * sqrt(var[4]);
    } else {
        /* polygons: circumscribed and inscribed diameters; the angle within one symmetry period */
        maj = 2 * fmax(a, b) / cos(M_PI / sides), mnr = 2 * fmin(a, b);
        maj_err = 2 * sqrt(fmax(var[3], var[4])) / cos(M_PI / sides), mnr_err = 2 * sqrt(fmin(var[3], var[4]));
        period = 2 * M_PI / sides;
    }
    double ang = -ph;
    while (ang <= -period / 2) ang += period;
    while (ang > period / 2) ang -= period;
    out->ok = 1;
    out->shape = bf->shape;
    out->x = p[0], out->y = p[1];
    out->x_err = sqrt(var[0]), out->y_err = sqrt(var[1]);
    out->angle = ang, out->angle_err = sqrt(var[2]);
    out->major = maj, out->minor = mnr, out->major_err = maj_err, out->minor_err = mnr_err;
    out->amplitude = p[5], out->background = p[6];
    out->edge_sigma = exp(p[9]);
    double s2 = bf->rss / (n > NP ? (double)(n - NP) : 1.0);
    out->chi2_red = out->noise > 0 ? s2 / (out->noise * out->noise) : NAN;
    return 0;
}

void sm__shape_prepare(const sm_refine_result *r, sm__shape_geom *g) {
    g->x = r->x, g->y = r->y, g->c = cos(r->phi), g->s = sin(r->phi);
    g->a = fmax(r->size_a, 1e-6), g->b = fmax(r->size_b, 1e-6);
    g->shape = r->shape;
    g->sides = polygon_sides(r->shape);
    if (g->sides) polygon_normals(g->sides, g->nx, g->ny);
}

double sm__shape_distance(const sm__shape_geom *g, double x, double y) {
    double dx = x - g->x, dy = y - g->y, a = g->a, b = g->b;
    double u = g->c * dx + g->s * dy, v = -g->s * dx + g->c * dy;
    if (g->sides) return polygon_dist(u, v, a, b, g->sides, g->nx, g->ny);
    if (g->shape == SM_SHAPE_SPHEROCYL) {
        double uu = fabs(u) > a ? fabs(u) - a : 0;
        return sqrt(uu * uu + v * v) - b;
    }
    /* ellipse: first-order distance (rho - 1) / |grad rho|, as in the fitted model */
    double rho2 = u * u / (a * a) + v * v / (b * b);
    if (rho2 < 1e-18) return -fmin(a, b);
    double rho = sqrt(rho2), grad = sqrt(u * u / (a * a * a * a) + v * v / (b * b * b * b)) / rho;
    return (rho - 1) / grad;
}

int64_t sm_refine_render(const sm_refine_result *r, int x0, int y0, int w, int h, uint8_t *mask) {
    if (!r || !mask || w <= 0 || h <= 0) return 0;
    sm__shape_geom g;
    sm__shape_prepare(r, &g);
    int64_t count = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int in = r->ok && sm__shape_distance(&g, x0 + x, y0 + y) <= 0;
            mask[(size_t)y * w + x] = (uint8_t)in;
            count += in;
        }
    return count;
}

int sm_refine_fit(const float *frame, int width, int height, const uint16_t *labels, uint16_t label,
                  const sm_refine_result *start, sm_shape_kind shape, sm_refine_result *out, sm_error *err) {
    if (!labels) return sm__refine_mask(frame, width, height, NULL, start, shape, NULL, out, err);
    int bx0, by0, bx1, by1;
    sm__label_bbox(labels, width, height, label, &bx0, &by0, &bx1, &by1);
    if (bx1 < 0) {
        memset(out, 0, sizeof *out);
        return sm_error_set(err, SM_EINVAL, "refine: no pixel has label %u", label);
    }
    sm__crop_mask cm = {0};
    if (sm__crop_mask_resize(&cm, bx0, by0, bx1 - bx0 + 1, by1 - by0 + 1) < 0)
        return sm_error_set(err, SM_ENOMEM, "refine: out of memory");
    for (int y = by0; y <= by1; y++)
        for (int x = bx0; x <= bx1; x++) cm.m[(size_t)(y - by0) * cm.w + (x - bx0)] = labels[(size_t)y * width + x] == label;
    int rc = sm__refine_mask(frame, width, height, &cm, start, shape, NULL, out, err);
    free(cm.m);
    return rc;
}
