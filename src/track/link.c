/* Linking detections into trajectories: frame-to-frame exact assignment with gap closing, an optional
 * constant-velocity Kalman predictor, identities kept from the model, and merge/split events.
 *
 * Why: masks carry no identity (or a model's identity that breaks when a particle is lost), and statistics
 * such as the MSD need one id per particle for its whole life.
 * How (the cost and the rules are stated in include/samem/track.h): rows are visited frame by frame; the
 * tracks seen in the last gap+1 frames are the rows of a sparse assignment against the frame's detections,
 * candidates found through a uniform grid over the detections (cell >= max_disp, at most ~4 cells per
 * detection); the assignment is exact (src/track/lap.c). This is trackpy's "memory" (Allan et al.) with an
 * optimal assignment instead of trackpy's subnetwork search, and the cost of Jaqaman et al. 2008 extended by
 * size and shape terms. The Kalman filter is the textbook constant-velocity model per axis (Bar-Shalom, Li,
 * Kirubarajan 2001, ch. 6) with white-noise acceleration of std kalman_q px/frame^2.
 * Left out: Jaqaman's second, segment-level pass for merges/splits (we only record them as events, a track
 * never continues through a merge); gating by the Kalman covariance.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samem/track.h"

/* ---------------------------------------------------------------- events table */

sm_track_events *sm_track_events_create(void) { return calloc(1, sizeof(sm_track_events)); }

void sm_track_events_destroy(sm_track_events *e) {
    if (!e) return;
    free(e->frame); free(e->kind); free(e->particle); free(e->other); free(e->x); free(e->y);
    free(e);
}

#define EGROW(f) do { void *p_ = realloc(e->f, (size_t)cap * sizeof *e->f); if (!p_) goto oom; e->f = p_; } while (0)

int sm_track_events_append(sm_track_events *e, int64_t frame, int kind, int64_t particle, int64_t other, double x,
                           double y, sm_error *err) {
    if (e->n == e->cap) {
        int64_t cap = e->cap ? e->cap * 2 : 64;
        EGROW(frame); EGROW(kind); EGROW(particle); EGROW(other); EGROW(x); EGROW(y);
        e->cap = cap;
    }
    int64_t i = e->n++;
    e->frame[i] = frame; e->kind[i] = kind; e->particle[i] = particle; e->other[i] = other;
    e->x[i] = x; e->y[i] = y;
    return 0;
oom:
    return sm_error_set(err, SM_ENOMEM, "events: out of memory");
}

int sm_track_events_write_csv(const sm_track_events *e, const char *path, sm_error *err) {
    sm_atomic_file f;
    int rc = sm_atomic_open(&f, path, err);
    if (rc < 0) return rc;
    fprintf(f.fp, "frame,event,particle,other,x,y\n");
    for (int64_t i = 0; i < e->n; i++) {
        fprintf(f.fp, "%lld,%s,%lld,%lld,", (long long)e->frame[i], e->kind[i] == SM_EVENT_MERGE ? "merge" : "split",
                (long long)e->particle[i], (long long)e->other[i]);
        sm_csv_write_double(f.fp, e->x[i]);
        fputc(',', f.fp);
        sm_csv_write_double(f.fp, e->y[i]);
        fputc('\n', f.fp);
    }
    return sm_atomic_commit(&f, err);
}

/* ---------------------------------------------------------------- parameters */

void sm_link_params_default(sm_link_params *p) {
    p->max_disp = 10;
    p->gap = 2;
    p->kalman = 0;
    p->keep_ids = 0;
    p->w_area = 0.5;
    p->w_shape = 0.5;
    p->gap_penalty = 0.1;
    p->birth_death = 0.75;
    p->kalman_q = 1;
    p->kalman_r = 1;
    p->merge_area_tol = 0.35;
    p->weighted_centroid = 0;
}

/* ---------------------------------------------------------------- int64 -> int64 map (open addressing) */

typedef struct imap {
    int64_t *key, *val;
    unsigned char *used;
    size_t cap, n;
} imap;

static size_t imap_slot(const imap *m, int64_t k) {
    uint64_t h = (uint64_t)k * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 17) & (m->cap - 1);
    while (m->used[i] && m->key[i] != k) i = (i + 1) & (m->cap - 1);
    return i;
}

static int imap_put(imap *m, int64_t k, int64_t v) {
    if (2 * (m->n + 1) > m->cap) {
        imap g = {0};
        g.cap = m->cap ? m->cap * 2 : 64;
        g.key = malloc(g.cap * sizeof *g.key);
        g.val = malloc(g.cap * sizeof *g.val);
        g.used = calloc(g.cap, 1);
        if (!g.key || !g.val || !g.used) {
            free(g.key); free(g.val); free(g.used);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->used[i]) {
                size_t s = imap_slot(&g, m->key[i]);
                g.used[s] = 1; g.key[s] = m->key[i]; g.val[s] = m->val[i]; g.n++;
            }
        free(m->key); free(m->val); free(m->used);
        *m = g;
    }
    size_t s = imap_slot(m, k);
    if (!m->used[s]) {
        m->used[s] = 1;
        m->key[s] = k;
        m->n++;
    }
    m->val[s] = v;
    return 0;
}

static int imap_get(const imap *m, int64_t k, int64_t *v) {
    if (!m->cap) return 0;
    size_t s = imap_slot(m, k);
    if (!m->used[s]) return 0;
    *v = m->val[s];
    return 1;
}

static void imap_free(imap *m) { free(m->key); free(m->val); free(m->used); }

/* ---------------------------------------------------------------- live tracks */

typedef struct kf1 { double p, v, P00, P01, P11; } kf1;   /* one axis: position px, velocity px/frame */

typedef struct live {
    int64_t id;
    int64_t last_frame;
    double x, y;          /* last measured position, px */
    double area, ecc, major;
    kf1 kx, ky;
    double px, py;        /* predicted position at the current frame, px */
    int linked;           /* detection index at the current frame, or -1 */
} live;

static void kf_init(kf1 *k, double z, const sm_link_params *p) {
    k->p = z; k->v = 0;
    k->P00 = p->kalman_r * p->kalman_r;
    k->P01 = 0;
    k->P11 = 0.25 * p->max_disp * p->max_disp;
}

/* Predicts s frames ahead: F = [1 s; 0 1], Q = q^2 [s^3/3 s^2/2; s^2/2 s]. */
static void kf_predict(kf1 *k, double s, double q) {
    k->p += s * k->v;
    double P00 = k->P00 + 2 * s * k->P01 + s * s * k->P11;
    double P01 = k->P01 + s * k->P11;
    double q2 = q * q;
    k->P00 = P00 + q2 * s * s * s / 3;
    k->P01 = P01 + q2 * s * s / 2;
    k->P11 += q2 * s;
}

static void kf_update(kf1 *k, double z, double r) {
    double S = k->P00 + r * r;
    double K0 = k->P00 / S, K1 = k->P01 / S;
    double innov = z - k->p;
    k->p += K0 * innov;
    k->v += K1 * innov;
    double P00 = (1 - K0) * k->P00, P01 = (1 - K0) * k->P01, P11 = k->P11 - K1 * k->P01;
    k->P00 = P00; k->P01 = P01; k->P11 = P11;
}

/* ---------------------------------------------------------------- linking */

typedef struct linker {
    const sm_link_params *p;
    sm_tracks *det;
    sm_track_events *events;
    live *lv;
    int nlv, caplv;
    int64_t next_id;
    imap label_to_id;   /* keep_ids: label value -> identity */
    imap id_to_live;    /* keep_ids: identity -> index in lv */
    /* per-frame scratch */
    int64_t *cell_start;
    int *cell_items;
    size_t cap_cells, cap_items;
    int64_t *row_ptr;
    int *col;
    size_t cap_rows, cap_pairs;
    double *cost;       /* (pairs) */
    int *assign;        /* (rows) */
    size_t cap_cost, cap_assign;
    int *det_track;     /* (m) live index linked to detection j, or -1 */
} linker;

static int ensure(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static double pair_cost(const sm_link_params *p, const live *t, const sm_tracks *det, int64_t r, double R, int g) {
    double dx = det->x[r] - t->px, dy = det->y[r] - t->py;
    double c = (dx * dx + dy * dy) / (R * R) + p->gap_penalty * g;
    double a = det->area[r];
    if (p->w_area > 0 && isfinite(a) && isfinite(t->area) && a > 0 && t->area > 0) {
        double l = log(a / t->area);
        c += p->w_area * l * l;
    }
    double e = det->eccentricity[r];
    if (p->w_shape > 0 && isfinite(e) && isfinite(t->ecc)) c += p->w_shape * (e - t->ecc) * (e - t->ecc);
    return c;
}

static int add_live(linker *L, int64_t id, int64_t frame, int64_t r, sm_error *err) {
    if (L->nlv == L->caplv) {
        int cap = L->caplv ? L->caplv * 2 : 64;
        live *q = realloc(L->lv, (size_t)cap * sizeof *q);
        if (!q) return sm_error_set(err, SM_ENOMEM, "link: out of memory");
        L->lv = q;
        L->caplv = cap;
    }
    live *t = &L->lv[L->nlv];
    memset(t, 0, sizeof *t);
    t->id = id;
    t->last_frame = frame;
    t->x = L->det->x[r]; t->y = L->det->y[r];
    t->area = L->det->area[r]; t->ecc = L->det->eccentricity[r]; t->major = L->det->major[r];
    kf_init(&t->kx, t->x, L->p);
    kf_init(&t->ky, t->y, L->p);
    t->linked = -1;
    if (L->p->keep_ids && imap_put(&L->id_to_live, id, L->nlv)) return sm_error_set(err, SM_ENOMEM, "link: out of memory");
    L->nlv++;
    return 0;
}

static void update_live(linker *L, live *t, int64_t frame, int64_t r) {
    const sm_tracks *d = L->det;
    if (L->p->kalman) {
        kf_update(&t->kx, d->x[r], L->p->kalman_r);
        kf_update(&t->ky, d->y[r], L->p->kalman_r);
    }
    t->last_frame = frame;
    t->x = d->x[r]; t->y = d->y[r];
    t->area = d->area[r]; t->ecc = d->eccentricity[r]; t->major = d->major[r];
}

/* Builds the grid over detections rows[0..m) and the candidate lists of the live tracks in `src` (indices
 * into lv); solves; fills det_track. */
static int assign_frame(linker *L, int64_t frame, const int64_t *rows, int m, const int *src, int n, sm_error *err) {
    const sm_link_params *p = L->p;
    const sm_tracks *d = L->det;
    for (int j = 0; j < m; j++) L->det_track[j] = -1;
    if (n == 0 || m == 0) return 0;
    double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
    for (int j = 0; j < m; j++) {
        double x = d->x[rows[j]], y = d->y[rows[j]];
        if (x < minx) minx = x;
        if (x > maxx) maxx = x;
        if (y < miny) miny = y;
        if (y > maxy) maxy = y;
    }
    double s = p->max_disp;
    double nxf = floor((maxx - minx) / s) + 1, nyf = floor((maxy - miny) / s) + 1;
    double limit = 4.0 * m + 16;
    if (nxf * nyf > limit) {
        s *= sqrt(nxf * nyf / limit);
        nxf = floor((maxx - minx) / s) + 1;
        nyf = floor((maxy - miny) / s) + 1;
    }
    int nx = (int)nxf, ny = (int)nyf;
    size_t ncell = (size_t)nx * (size_t)ny;
    if (ensure((void **)&L->cell_start, &L->cap_cells, ncell + 1, sizeof *L->cell_start) ||
        ensure((void **)&L->cell_items, &L->cap_items, (size_t)m, sizeof *L->cell_items))
        return sm_error_set(err, SM_ENOMEM, "link: out of memory");
    int64_t *cs = L->cell_start;
    memset(cs, 0, (ncell + 1) * sizeof *cs);
    for (int j = 0; j < m; j++) {
        int cx = (int)((d->x[rows[j]] - minx) / s), cy = (int)((d->y[rows[j]] - miny) / s);
        if (cx >= nx) cx = nx - 1;
        if (cy >= ny) cy = ny - 1;
        cs[(size_t)cy * nx + cx + 1]++;
    }
    for (size_t c = 0; c < ncell; c++) cs[c + 1] += cs[c];
    for (int j = 0; j < m; j++) {
        int cx = (int)((d->x[rows[j]] - minx) / s), cy = (int)((d->y[rows[j]] - miny) / s);
        if (cx >= nx) cx = nx - 1;
        if (cy >= ny) cy = ny - 1;
        L->cell_items[cs[(size_t)cy * nx + cx]++] = j;
    }
    for (size_t c = ncell; c > 0; c--) cs[c] = cs[c - 1];
    cs[0] = 0;

    if (ensure((void **)&L->row_ptr, &L->cap_rows, (size_t)n + 1, sizeof *L->row_ptr))
        return sm_error_set(err, SM_ENOMEM, "link: out of memory");
    int64_t e = 0;
    for (int a = 0; a < n; a++) {
        live *t = &L->lv[src[a]];
        L->row_ptr[a] = e;
        int g = (int)(frame - t->last_frame - 1);
        double R = p->max_disp * sqrt((double)g + 1);
        int cx0 = (int)floor((t->px - R - minx) / s), cx1 = (int)floor((t->px + R - minx) / s);
        int cy0 = (int)floor((t->py - R - miny) / s), cy1 = (int)floor((t->py + R - miny) / s);
        if (cx0 < 0) cx0 = 0;
        if (cy0 < 0) cy0 = 0;
        if (cx1 > nx - 1) cx1 = nx - 1;
        if (cy1 > ny - 1) cy1 = ny - 1;
        for (int cy = cy0; cy <= cy1; cy++)
            for (int cx = cx0; cx <= cx1; cx++) {
                size_t c = (size_t)cy * nx + cx;
                for (int64_t k = cs[c]; k < cs[c + 1]; k++) {
                    int j = L->cell_items[k];
                    int64_t r = rows[j];
                    double dx = d->x[r] - t->px, dy = d->y[r] - t->py;
                    if (dx * dx + dy * dy > R * R) continue;
                    if (ensure((void **)&L->col, &L->cap_pairs, (size_t)e + 1, sizeof *L->col))
                        return sm_error_set(err, SM_ENOMEM, "link: out of memory");
                    L->col[e] = j;
                    e++;
                }
            }
    }
    L->row_ptr[n] = e;
    if (ensure((void **)&L->cost, &L->cap_cost, (size_t)e + 1, sizeof *L->cost) ||
        ensure((void **)&L->assign, &L->cap_assign, (size_t)L->nlv + 1, sizeof *L->assign))
        return sm_error_set(err, SM_ENOMEM, "link: out of memory");
    double *cost = L->cost;
    int *assign = L->assign;
    for (int a = 0; a < n; a++) {
        live *t = &L->lv[src[a]];
        int g = (int)(frame - t->last_frame - 1);
        double R = p->max_disp * sqrt((double)g + 1);
        for (int64_t k = L->row_ptr[a]; k < L->row_ptr[a + 1]; k++) cost[k] = pair_cost(p, t, d, rows[L->col[k]], R, g);
    }
    int rc = sm_lap_sparse(n, m, L->row_ptr, L->col, cost, NULL, NULL, p->birth_death, assign, err);
    if (rc == 0)
        for (int a = 0; a < n; a++)
            if (assign[a] >= 0) L->det_track[assign[a]] = src[a];
    return rc;
}

static double dist(double ax, double ay, double bx, double by) { return hypot(ax - bx, ay - by); }

/* Merge/split events at `frame`: prev_* describe the live tracks as they were at frame-1 (before update). */
static int find_events(linker *L, int64_t frame, const int64_t *rows, int m, const int64_t *det_id,
                       const int *det_prev, const double *prev_x, const double *prev_y, const double *prev_area,
                       const int64_t *prev_id, int nprev, const unsigned char *prev_continued, sm_error *err) {
    const sm_tracks *d = L->det;
    double tol = L->p->merge_area_tol;
    /* merges: a track of frame-1 that did not continue, into a detection that continues another */
    for (int e = 0; e < nprev; e++) {
        if (prev_continued[e] || !isfinite(prev_area[e])) continue;
        int best = -1;
        double bestd = INFINITY;
        for (int j = 0; j < m; j++) {
            int k = det_prev[j];
            if (k < 0 || k == e) continue;
            int64_t r = rows[j];
            double a = d->area[r], sum = prev_area[k] + prev_area[e];
            if (!isfinite(a) || !isfinite(sum) || fabs(a - sum) > tol * sum) continue;
            double reach = L->p->max_disp + (isfinite(d->major[r]) ? 0.5 * d->major[r] : 0);
            double dd = dist(prev_x[e], prev_y[e], d->x[r], d->y[r]);
            if (dd <= reach && dd < bestd) {
                bestd = dd;
                best = j;
            }
        }
        if (best >= 0) {
            int64_t r = rows[best];
            int rc = sm_track_events_append(L->events, frame, SM_EVENT_MERGE, prev_id[e], det_id[best], d->x[r], d->y[r], err);
            if (rc < 0) return rc;
        }
    }
    /* splits: a detection that starts a track, out of a track of frame-1 that continues */
    for (int b = 0; b < m; b++) {
        if (det_prev[b] >= 0) continue;
        int64_t rb = rows[b];
        if (!isfinite(d->area[rb])) continue;
        int best = -1;
        double bestd = INFINITY;
        for (int j = 0; j < m; j++) {
            int k = det_prev[j];
            if (k < 0) continue;
            int64_t r = rows[j];
            double sum = d->area[r] + d->area[rb], a = prev_area[k];
            if (!isfinite(a) || !isfinite(sum) || fabs(a - sum) > tol * a) continue;
            double reach = L->p->max_disp + 0.5 * sqrt(4 * a / M_PI);
            double dd = dist(prev_x[k], prev_y[k], d->x[rb], d->y[rb]);
            if (dd <= reach && dd < bestd) {
                bestd = dd;
                best = j;
            }
        }
        if (best >= 0) {
            int k = det_prev[best];
            int rc = sm_track_events_append(L->events, frame, SM_EVENT_SPLIT, det_id[b], prev_id[k], prev_x[k], prev_y[k], err);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

typedef struct order_key { int64_t frame, row; } order_key;

static int cmp_order(const void *a, const void *b) {
    const order_key *x = a, *y = b;
    if (x->frame != y->frame) return x->frame < y->frame ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

int sm_track_link(sm_tracks *det, const sm_link_params *p, sm_track_events *events, sm_error *err) {
    if (!(p->max_disp > 0) || !isfinite(p->max_disp))
        return sm_error_set(err, SM_EINVAL, "link: max_disp must be positive (got %g px)", p->max_disp);
    if (p->gap < 0) return sm_error_set(err, SM_EINVAL, "link: gap must be >= 0 (got %d)", p->gap);
    if (!(p->birth_death > 0)) return sm_error_set(err, SM_EINVAL, "link: birth_death must be positive");
    int64_t N = det->n;
    for (int64_t i = 0; i < N; i++) {
        if (!isfinite(det->x[i]) || !isfinite(det->y[i]))
            return sm_error_set(err, SM_EINVAL, "link: row %lld (frame %lld) has no finite position", (long long)i,
                                (long long)det->frame[i]);
        if (det->frame[i] < 0) return sm_error_set(err, SM_EINVAL, "link: row %lld has a negative frame", (long long)i);
    }
    if (N == 0) return 0;
    if (N > INT32_MAX / 2) return sm_error_set(err, SM_ENOMEM, "link: too many detections");
    order_key *ord = malloc((size_t)N * sizeof *ord);
    int64_t *rows = malloc((size_t)N * sizeof *rows);
    int64_t *det_id = malloc((size_t)N * sizeof *det_id);
    int *det_track = malloc((size_t)N * sizeof *det_track);
    int *det_prev = malloc((size_t)N * sizeof *det_prev);
    linker L = {.p = p, .det = det, .events = events};
    int *src = NULL;
    double *prev_x = NULL, *prev_y = NULL, *prev_area = NULL;
    int64_t *prev_id = NULL;
    unsigned char *prev_cont = NULL;
    int *live_to_prev = NULL;
    size_t cap_src = 0, cap_l2p = 0, cap_px = 0, cap_py = 0, cap_pa = 0, cap_pi = 0, cap_pc = 0;
    int rc = 0;
    if (!ord || !rows || !det_id || !det_track || !det_prev) {
        rc = sm_error_set(err, SM_ENOMEM, "link: out of memory for %lld detections", (long long)N);
        goto done;
    }
    L.det_track = det_track;
    for (int64_t i = 0; i < N; i++) {
        ord[i].frame = det->frame[i];
        ord[i].row = i;
    }
    qsort(ord, (size_t)N, sizeof *ord, cmp_order);
    for (int64_t i = 0; i < N; i++) rows[i] = ord[i].row;

    for (int64_t start = 0; start < N;) {
        int64_t frame = det->frame[rows[start]];
        int64_t end = start;
        while (end < N && det->frame[rows[end]] == frame) end++;
        int m = (int)(end - start);
        const int64_t *fr = rows + start;

        /* drop tracks lost for more than gap frames; predict the rest */
        int w = 0;
        for (int a = 0; a < L.nlv; a++) {
            live *t = &L.lv[a];
            if (frame - t->last_frame - 1 > p->gap) continue;
            L.lv[w] = *t;
            w++;
        }
        L.nlv = w;
        if (p->keep_ids) {
            /* rebuild id -> live index after compaction */
            imap_free(&L.id_to_live);
            memset(&L.id_to_live, 0, sizeof L.id_to_live);
            for (int a = 0; a < L.nlv; a++)
                if (imap_put(&L.id_to_live, L.lv[a].id, a)) {
                    rc = sm_error_set(err, SM_ENOMEM, "link: out of memory");
                    goto done;
                }
        }
        for (int a = 0; a < L.nlv; a++) {
            live *t = &L.lv[a];
            t->linked = -1;
            if (p->kalman) {
                kf1 kx = t->kx, ky = t->ky;
                double s = (double)(frame - t->last_frame);
                kf_predict(&kx, s, p->kalman_q);
                kf_predict(&ky, s, p->kalman_q);
                t->px = kx.p; t->py = ky.p;
            } else {
                t->px = t->x; t->py = t->y;
            }
        }
        /* snapshot of the tracks seen at frame-1, for events */
        size_t need = (size_t)L.nlv + 1;
        if (ensure((void **)&live_to_prev, &cap_l2p, need, sizeof *live_to_prev) ||
            ensure((void **)&prev_x, &cap_px, need, sizeof *prev_x) || ensure((void **)&prev_y, &cap_py, need, sizeof *prev_y) ||
            ensure((void **)&prev_area, &cap_pa, need, sizeof *prev_area) ||
            ensure((void **)&prev_id, &cap_pi, need, sizeof *prev_id) || ensure((void **)&prev_cont, &cap_pc, need, 1)) {
            rc = sm_error_set(err, SM_ENOMEM, "link: out of memory");
            goto done;
        }
        int nprev = 0;
        for (int a = 0; a < L.nlv; a++) {
            live *t = &L.lv[a];
            live_to_prev[a] = -1;
            if (t->last_frame != frame - 1) continue;
            live_to_prev[a] = nprev;
            prev_x[nprev] = t->x; prev_y[nprev] = t->y; prev_area[nprev] = t->area; prev_id[nprev] = t->id;
            prev_cont[nprev] = 0;
            nprev++;
        }

        if (ensure((void **)&src, &cap_src, (size_t)L.nlv + 1, sizeof *src)) {
            rc = sm_error_set(err, SM_ENOMEM, "link: out of memory");
            goto done;
        }
        if (!p->keep_ids) {
            for (int a = 0; a < L.nlv; a++) src[a] = a;
            rc = assign_frame(&L, frame, fr, m, src, L.nlv, err);
            if (rc < 0) goto done;
            for (int j = 0; j < m; j++) det_id[j] = det_track[j] >= 0 ? L.lv[det_track[j]].id : -1;
        } else {
            /* known labels keep their identity; new labels may be stitched onto lost tracks */
            int nnew = 0;
            int64_t *newrows = malloc((size_t)m * sizeof *newrows);
            int *newj = malloc((size_t)m * sizeof *newj);
            if (!newrows || !newj) {
                free(newrows); free(newj);
                rc = sm_error_set(err, SM_ENOMEM, "link: out of memory");
                goto done;
            }
            for (int j = 0; j < m; j++) {
                int64_t id, li;
                det_track[j] = -1;
                det_id[j] = -1;
                if (imap_get(&L.label_to_id, det->particle[fr[j]], &id)) {
                    det_id[j] = id;
                    if (imap_get(&L.id_to_live, id, &li)) {
                        det_track[j] = (int)li;
                        L.lv[li].linked = j;
                    }
                } else {
                    newrows[nnew] = fr[j];
                    newj[nnew++] = j;
                }
            }
            int nlost = 0;
            for (int a = 0; a < L.nlv; a++)
                if (L.lv[a].linked < 0 && L.lv[a].last_frame < frame) src[nlost++] = a;
            int *tmp_track = malloc(((size_t)nnew + 1) * sizeof *tmp_track);
            int *save = L.det_track;
            if (!tmp_track) {
                free(newrows); free(newj);
                rc = sm_error_set(err, SM_ENOMEM, "link: out of memory");
                goto done;
            }
            L.det_track = tmp_track;
            rc = assign_frame(&L, frame, newrows, nnew, src, nlost, err);
            L.det_track = save;
            for (int k = 0; k < nnew && rc == 0; k++) {
                int j = newj[k];
                int64_t label = det->particle[fr[j]];
                int64_t id = tmp_track[k] >= 0 ? L.lv[tmp_track[k]].id : label;
                det_track[j] = tmp_track[k];
                det_id[j] = id;
                if (imap_put(&L.label_to_id, label, id)) rc = sm_error_set(err, SM_ENOMEM, "link: out of memory");
            }
            free(tmp_track); free(newrows); free(newj);
            if (rc < 0) goto done;
        }

        /* which detection continues which track of frame-1 */
        for (int j = 0; j < m; j++) {
            det_prev[j] = -1;
            if (det_track[j] >= 0 && live_to_prev[det_track[j]] >= 0) {
                det_prev[j] = live_to_prev[det_track[j]];
                prev_cont[det_prev[j]] = 1;
            }
        }
        /* new tracks and identities */
        for (int j = 0; j < m; j++) {
            if (det_track[j] >= 0) continue;
            if (!p->keep_ids) det_id[j] = L.next_id++;
        }
        if (events) {
            rc = find_events(&L, frame, fr, m, det_id, det_prev, prev_x, prev_y, prev_area, prev_id, nprev, prev_cont, err);
            if (rc < 0) goto done;
        }
        /* update linked tracks, start new ones */
        int nlv_before = L.nlv;
        for (int j = 0; j < m; j++) {
            int64_t r = fr[j];
            det->particle[r] = det_id[j];
            if (det_track[j] >= 0 && det_track[j] < nlv_before) {
                live *t = &L.lv[det_track[j]];
                if (t->last_frame == frame) continue;   /* keep_ids: a label repeated in one frame */
                if (p->kalman) {
                    double s = (double)(frame - t->last_frame);
                    kf_predict(&t->kx, s, p->kalman_q);
                    kf_predict(&t->ky, s, p->kalman_q);
                }
                update_live(&L, t, frame, r);
            } else {
                int64_t li;
                if (p->keep_ids && imap_get(&L.id_to_live, det_id[j], &li)) continue;
                rc = add_live(&L, det_id[j], frame, r, err);
                if (rc < 0) goto done;
            }
        }
        start = end;
    }
done:
    free(ord); free(rows); free(det_id); free(det_track); free(det_prev);
    free(src); free(prev_x); free(prev_y); free(prev_area); free(prev_id); free(prev_cont); free(live_to_prev);
    free(L.lv); free(L.cell_start); free(L.cell_items); free(L.row_ptr); free(L.col); free(L.cost); free(L.assign);
    imap_free(&L.label_to_id);
    imap_free(&L.id_to_live);
    return rc;
}
