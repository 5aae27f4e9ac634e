/* Multi-object tracking scores: CLEAR MOT (MOTA, MOTP, ID switches, fragmentations), Identity (IDF1) and HOTA,
 * computed from per-frame similarities between truth and predicted detections.
 *
 * Why: a segmenter can be right in every frame and still swap identities; these are the scores the tracking
 * literature reports, so numbers must agree with the reference implementation.
 * Spec: TrackEval (Luiten and Hoffhues, github.com/JonathonLuiten/TrackEval), metrics/clear.py, identity.py
 * and hota.py; Bernardin and Stiefelhagen 2008 (CLEAR MOT); Ristani et al. 2016 (IDF1); Luiten et al. 2021,
 * IJCV 129:548 (HOTA). We follow TrackEval's rules, including its handling of frames with no truth or no
 * prediction, and solve its assignments with the exact sparse solver of src/track/lap.c (the same optimum as
 * scipy's linear_sum_assignment; ties may pick a different, equally scored matching).
 * How: ids are mapped to dense indices; every (truth id, tracker id) pair that ever has a non-zero similarity
 * gets a slot in a hash table holding its HOTA alignment, its per-alpha match counts and its identity count.
 * Left out: MT/PT/ML, and TrackEval's dataset-specific preprocessing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samem/metrics.h"
#include "samem/track.h"

#define EPS 2.220446049250313e-16   /* np.finfo(float).eps, as TrackEval uses */

struct sm_mot {
    int64_t nframes, capf;
    int64_t *gt_off, *pred_off, *pair_off;   /* (nframes + 1) offsets into the flat arrays */
    int64_t *gt_ids, *pred_ids;              /* flat */
    int64_t ngt, npred, capg, capp;
    int *pair_gt, *pair_pred;                /* indices within the frame */
    double *pair_sim;
    int64_t npair, cappair;
};

sm_mot *sm_mot_create(void) {
    sm_mot *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->gt_off = calloc(1, sizeof *m->gt_off);
    m->pred_off = calloc(1, sizeof *m->pred_off);
    m->pair_off = calloc(1, sizeof *m->pair_off);
    if (!m->gt_off || !m->pred_off || !m->pair_off) {
        sm_mot_destroy(m);
        return NULL;
    }
    return m;
}

void sm_mot_destroy(sm_mot *m) {
    if (!m) return;
    free(m->gt_off); free(m->pred_off); free(m->pair_off); free(m->gt_ids); free(m->pred_ids);
    free(m->pair_gt); free(m->pair_pred); free(m->pair_sim);
    free(m);
}

static int grow(void **p, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return 0;
    int64_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int has_duplicates(const int64_t *ids, int n) {
    if (n < 2) return 0;
    int64_t *c = malloc((size_t)n * sizeof *c);
    if (!c) return -1;
    memcpy(c, ids, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_i64);
    int dup = 0;
    for (int i = 1; i < n && !dup; i++) dup = c[i] == c[i - 1];
    free(c);
    return dup;
}

int sm_mot_add_frame(sm_mot *m, int n_gt, const int64_t *gt_ids, int n_pred, const int64_t *pred_ids, int n_pairs,
                     const int *pair_gt, const int *pair_pred, const double *pair_sim, sm_error *err) {
    if (n_gt < 0 || n_pred < 0 || n_pairs < 0) return sm_error_set(err, SM_EINVAL, "tracking metrics: negative count");
    int d1 = has_duplicates(gt_ids, n_gt), d2 = has_duplicates(pred_ids, n_pred);
    if (d1 < 0 || d2 < 0) return sm_error_set(err, SM_ENOMEM, "tracking metrics: out of memory");
    if (d1 || d2)
        return sm_error_set(err, SM_EINVAL, "tracking metrics: frame %lld has a %s id twice", (long long)m->nframes,
                            d1 ? "truth" : "predicted");
    for (int k = 0; k < n_pairs; k++) {
        if (pair_gt[k] < 0 || pair_gt[k] >= n_gt || pair_pred[k] < 0 || pair_pred[k] >= n_pred)
            return sm_error_set(err, SM_EINVAL, "tracking metrics: pair index out of range");
        if (!(pair_sim[k] >= 0 && pair_sim[k] <= 1))
            return sm_error_set(err, SM_EINVAL, "tracking metrics: similarity %g outside 0..1", pair_sim[k]);
    }
    int64_t nf = m->nframes + 1;
    if (nf + 1 > m->capf) {
        int64_t cap = m->capf ? m->capf * 2 : 64;
        while (cap < nf + 1) cap *= 2;
        int64_t *a = realloc(m->gt_off, (size_t)cap * sizeof *a);
        if (a) m->gt_off = a;
        int64_t *b = realloc(m->pred_off, (size_t)cap * sizeof *b);
        if (b) m->pred_off = b;
        int64_t *c = realloc(m->pair_off, (size_t)cap * sizeof *c);
        if (c) m->pair_off = c;
        if (!a || !b || !c) return sm_error_set(err, SM_ENOMEM, "tracking metrics: out of memory");
        m->capf = cap;
    }
    if (grow((void **)&m->gt_ids, &m->capg, m->ngt + n_gt, sizeof *m->gt_ids) ||
        grow((void **)&m->pred_ids, &m->capp, m->npred + n_pred, sizeof *m->pred_ids))
        return sm_error_set(err, SM_ENOMEM, "tracking metrics: out of memory");
    int64_t cp = m->cappair;
    if (grow((void **)&m->pair_gt, &cp, m->npair + n_pairs, sizeof *m->pair_gt)) goto oom;
    cp = m->cappair;
    if (grow((void **)&m->pair_pred, &cp, m->npair + n_pairs, sizeof *m->pair_pred)) goto oom;
    cp = m->cappair;
    if (grow((void **)&m->pair_sim, &cp, m->npair + n_pairs, sizeof *m->pair_sim)) goto oom;
    m->cappair = cp;
    if (n_gt) memcpy(m->gt_ids + m->ngt, gt_ids, (size_t)n_gt * sizeof *gt_ids);
    if (n_pred) memcpy(m->pred_ids + m->npred, pred_ids, (size_t)n_pred * sizeof *pred_ids);
    for (int k = 0; k < n_pairs; k++) {
        m->pair_gt[m->npair + k] = pair_gt[k];
        m->pair_pred[m->npair + k] = pair_pred[k];
        m->pair_sim[m->npair + k] = pair_sim[k];
    }
    m->ngt += n_gt;
    m->npred += n_pred;
    m->npair += n_pairs;
    m->nframes = nf;
    m->gt_off[nf] = m->ngt;
    m->pred_off[nf] = m->npred;
    m->pair_off[nf] = m->npair;
    return 0;
oom:
    return sm_error_set(err, SM_ENOMEM, "tracking metrics: out of memory");
}

/* ---------------------------------------------------------------- point tracks */

typedef struct fr_key { int64_t frame, row; } fr_key;

static int cmp_fr(const void *a, const void *b) {
    const fr_key *x = a, *y = b;
    if (x->frame != y->frame) return x->frame < y->frame ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* Rows in frame order, leaving out rows marked not visible (visible == 0); *n receives their count. */
static fr_key *frame_order(const sm_tracks *t, int64_t *n) {
    fr_key *k = malloc(((size_t)t->n + 1) * sizeof *k);
    if (!k) return NULL;
    int64_t m = 0;
    for (int64_t i = 0; i < t->n; i++) {
        if (t->visible[i] == 0) continue;
        k[m].frame = t->frame[i];
        k[m++].row = i;
    }
    qsort(k, (size_t)m, sizeof *k, cmp_fr);
    *n = m;
    return k;
}

typedef struct xb { double x; int b; } xb;

static int cmp_xb(const void *a, const void *b) {
    const xb *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

int sm_mot_add_points(sm_mot *m, const sm_tracks *gt, const sm_tracks *pred, double radius, sm_error *err) {
    if (!(radius > 0)) return sm_error_set(err, SM_EINVAL, "tracking metrics: radius must be positive");
    for (int k = 0; k < 2; k++) {
        const sm_tracks *t = k ? pred : gt;
        for (int64_t i = 0; i < t->n; i++)
            if (t->visible[i] != 0 && (!isfinite(t->x[i]) || !isfinite(t->y[i])))
                return sm_error_set(err, SM_EINVAL, "tracking metrics: %s row %lld (frame %lld) has no finite position",
                                    k ? "predicted" : "truth", (long long)i, (long long)t->frame[i]);
    }
    int64_t ngt = 0, npr = 0;
    fr_key *kg = frame_order(gt, &ngt), *kp = frame_order(pred, &npr);
    int64_t *gid = malloc(((size_t)gt->n + 1) * sizeof *gid), *pid = malloc(((size_t)pred->n + 1) * sizeof *pid);
    xb *byx = malloc(((size_t)pred->n + 1) * sizeof *byx);
    int *pg = NULL, *pp = NULL;
    double *ps = NULL;
    int64_t cap = 0, capb = 0, capc = 0;
    int rc = 0;
    if (!kg || !kp || !gid || !pid || !byx) {
        rc = sm_error_set(err, SM_ENOMEM, "tracking metrics: out of memory");
        goto done;
    }
    int64_t i = 0, j = 0;
    while (i < ngt || j < npr) {
        int64_t f = INT64_MAX;
        if (i < ngt) f = kg[i].frame;
        if (j < npr && kp[j].frame < f) f = kp[j].frame;
        int64_t i1 = i, j1 = j;
        while (i1 < ngt && kg[i1].frame == f) i1++;
        while (j1 < npr && kp[j1].frame == f) j1++;
        int ng = (int)(i1 - i), np = (int)(j1 - j), n = 0;
        for (int a = 0; a < ng; a++) gid[a] = gt->particle[kg[i + a].row];
        for (int b = 0; b < np; b++) pid[b] = pred->particle[kp[j + b].row];
        /* predictions sorted by x: each truth point scans only those within 2 radius in x */
        for (int b = 0; b < np; b++) {
            byx[b].x = pred->x[kp[j + b].row];
            byx[b].b = b;
        }
        qsort(byx, (size_t)np, sizeof *byx, cmp_xb);
        for (int a = 0; a < ng; a++) {
            int64_t ra = kg[i + a].row;
            double xa = gt->x[ra];
            int lo = 0, hi = np;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (byx[mid].x < xa - 2 * radius) lo = mid + 1;
                else hi = mid;
            }
            for (int q = lo; q < np && byx[q].x <= xa + 2 * radius; q++) {
                int b = byx[q].b;
                int64_t rb = kp[j + b].row;
                double d = hypot(gt->x[ra] - pred->x[rb], gt->y[ra] - pred->y[rb]);
                double s = 1 - d / (2 * radius);
                if (!(s > 0)) continue;
                if (grow((void **)&pg, &cap, n + 1, sizeof *pg) || grow((void **)&pp, &capb, n + 1, sizeof *pp) ||
                    grow((void **)&ps, &capc, n + 1, sizeof *ps)) {
                    rc = sm_error_set(err, SM_ENOMEM, "tracking metrics: out of memory");
                    goto done;
                }
                pg[n] = a; pp[n] = b; ps[n] = s;
                n++;
            }
        }
        rc = sm_mot_add_frame(m, ng, gid, np, pid, n, pg, pp, ps, err);
        if (rc < 0) {
            sm_error_prefix(err, "frame %lld", (long long)f);
            goto done;
        }
        i = i1;
        j = j1;
    }
done:
    free(kg); free(kp); free(gid); free(pid); free(pg); free(pp); free(ps); free(byx);
    return rc;
}

/* ---------------------------------------------------------------- scoring */

typedef struct pair_table {
    uint64_t *key;   /* g * P + p + 1; 0 empty */
    int64_t *slot;
    size_t cap;
    int64_t n;
} pair_table;

static int64_t pt_find(const pair_table *t, uint64_t key) {
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (t->cap - 1);
    while (t->key[i] && t->key[i] != key) i = (i + 1) & (t->cap - 1);
    return t->key[i] ? t->slot[i] : -1;
}

static int64_t pt_insert(pair_table *t, uint64_t key) {
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (t->cap - 1);
    while (t->key[i] && t->key[i] != key) i = (i + 1) & (t->cap - 1);
    if (!t->key[i]) {
        t->key[i] = key;
        t->slot[i] = t->n++;
    }
    return t->slot[i];
}

static int dense_ids(const int64_t *ids, int64_t n, int64_t **uniq, int64_t *nu, int *dense) {
    int64_t *u = malloc(((size_t)n + 1) * sizeof *u);
    if (!u) return -1;
    if (n) memcpy(u, ids, (size_t)n * sizeof *u);
    qsort(u, (size_t)n, sizeof *u, cmp_i64);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (k == 0 || u[i] != u[k - 1]) u[k++] = u[i];
    for (int64_t i = 0; i < n; i++) {
        int64_t lo = 0, hi = k - 1;
        while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            if (u[mid] < ids[i]) lo = mid + 1;
            else hi = mid;
        }
        dense[i] = (int)lo;
    }
    *uniq = u;
    *nu = k;
    return 0;
}

/* Maximum-weight matching of one frame's candidate pairs (weights > 0): match[k] = 1 for chosen pairs. */
typedef struct frame_lap {
    int64_t *ptr;
    int *col, *assign, *order;
    double *cost;
    int64_t cap_ptr, cap_col, cap_assign;
} frame_lap;

static int solve_frame(frame_lap *L, int ng, int np, int64_t npairs, const int *pg, const int *pp, const double *w,
                       unsigned char *chosen, sm_error *err) {
    int64_t c1 = L->cap_col, c2 = L->cap_col, c3 = L->cap_col;
    if (grow((void **)&L->ptr, &L->cap_ptr, ng + 1, sizeof *L->ptr) ||
        grow((void **)&L->col, &c1, npairs + 1, sizeof *L->col) ||
        grow((void **)&L->cost, &c2, npairs + 1, sizeof *L->cost) ||
        grow((void **)&L->order, &c3, npairs + 1, sizeof *L->order) ||
        grow((void **)&L->assign, &L->cap_assign, ng + 1, sizeof *L->assign))
        return sm_error_set(err, SM_ENOMEM, "tracking metrics: out of memory");
    L->cap_col = c1;
    for (int g = 0; g <= ng; g++) L->ptr[g] = 0;
    for (int64_t k = 0; k < npairs; k++)
        if (w[k] > 0) L->ptr[pg[k] + 1]++;
    for (int g = 0; g < ng; g++) L->ptr[g + 1] += L->ptr[g];
    /* fill in pair order per row, remembering each entry's pair */
    int64_t *fill = malloc(((size_t)ng + 1) * sizeof *fill);
    if (!fill) return sm_error_set(err, SM_ENOMEM, "tracking metrics: out of memory");
    for (int g = 0; g < ng; g++) fill[g] = L->ptr[g];
    for (int64_t k = 0; k < npairs; k++) {
        chosen[k] = 0;
        if (!(w[k] > 0)) continue;
        int64_t e = fill[pg[k]]++;
        L->col[e] = pp[k];
        L->cost[e] = -w[k];
        L->order[e] = (int)k;
    }
    free(fill);
    int rc = sm_lap_sparse(ng, np, L->ptr, L->col, L->cost, NULL, NULL, 0, L->assign, err);
    if (rc < 0) return rc;
    for (int g = 0; g < ng; g++) {
        if (L->assign[g] < 0) continue;
        /* the chosen pair: the cheapest entry of row g in column assign[g] */
        int64_t best = -1;
        for (int64_t e = L->ptr[g]; e < L->ptr[g + 1]; e++)
            if (L->col[e] == L->assign[g] && (best < 0 || L->cost[e] < L->cost[best])) best = e;
        if (best >= 0) chosen[L->order[best]] = 1;
    }
    return 0;
}

int sm_mot_compute(const sm_mot *m, double threshold, sm_mot_scores *out, sm_error *err) {
    memset(out, 0, sizeof *out);
    if (!(threshold > 0 && threshold <= 1)) return sm_error_set(err, SM_EINVAL, "tracking metrics: threshold must be in (0, 1]");
    int64_t *ug = NULL, *up = NULL, NG = 0, NP = 0;
    int *dg = malloc(((size_t)m->ngt + 1) * sizeof *dg), *dp = malloc(((size_t)m->npred + 1) * sizeof *dp);
    int64_t *gcount = NULL, *pcount = NULL, *prev_ts = NULL, *prev_trk = NULL, *frag = NULL;
    pair_table pt = {0};
    double *pot = NULL, *align = NULL, *w = NULL, *idcount = NULL, *rowsum = NULL, *colsum = NULL;
    int64_t *mcount = NULL, *slot_of_pair = NULL;
    unsigned char *chosen = NULL;
    frame_lap L = {0};
    int rc = 0;
    if (!dg || !dp || dense_ids(m->gt_ids, m->ngt, &ug, &NG, dg) || dense_ids(m->pred_ids, m->npred, &up, &NP, dp)) goto oom;
    gcount = calloc((size_t)NG + 1, sizeof *gcount);
    pcount = calloc((size_t)NP + 1, sizeof *pcount);
    prev_ts = malloc(((size_t)NG + 1) * sizeof *prev_ts);
    prev_trk = malloc(((size_t)NG + 1) * sizeof *prev_trk);
    frag = calloc((size_t)NG + 1, sizeof *frag);
    pt.cap = 64;
    while (pt.cap < 2 * (size_t)m->npair + 2) pt.cap *= 2;
    pt.key = calloc(pt.cap, sizeof *pt.key);
    pt.slot = malloc(pt.cap * sizeof *pt.slot);
    slot_of_pair = malloc(((size_t)m->npair + 1) * sizeof *slot_of_pair);
    w = malloc(((size_t)m->npair + 1) * sizeof *w);
    chosen = malloc((size_t)m->npair + 1);
    if (!gcount || !pcount || !prev_ts || !prev_trk || !frag || !pt.key || !pt.slot || !slot_of_pair || !w || !chosen) goto oom;
    for (int64_t f = 0; f < m->nframes; f++) {
        int64_t g0 = m->gt_off[f], p0 = m->pred_off[f];
        for (int64_t i = g0; i < m->gt_off[f + 1]; i++) gcount[dg[i]]++;
        for (int64_t i = p0; i < m->pred_off[f + 1]; i++) pcount[dp[i]]++;
        for (int64_t k = m->pair_off[f]; k < m->pair_off[f + 1]; k++) {
            uint64_t key = (uint64_t)dg[g0 + m->pair_gt[k]] * (uint64_t)(NP + 1) + (uint64_t)dp[p0 + m->pair_pred[k]] + 1;
            slot_of_pair[k] = pt_insert(&pt, key);
        }
    }
    int64_t NS = pt.n;
    pot = calloc((size_t)NS + 1, sizeof *pot);
    align = calloc((size_t)NS + 1, sizeof *align);
    idcount = calloc((size_t)NS + 1, sizeof *idcount);
    mcount = calloc(((size_t)NS + 1) * SM_HOTA_ALPHAS, sizeof *mcount);
    if (!pot || !align || !idcount || !mcount) goto oom;
    out->num_gt_dets = m->ngt;
    out->num_pred_dets = m->npred;
    out->num_gt_ids = NG;
    out->num_pred_ids = NP;
    out->frames = m->nframes;

    /* ---- HOTA pass 1: global alignment; Identity counts */
    int64_t maxg = 1, maxp = 1;
    for (int64_t f = 0; f < m->nframes; f++) {
        if (m->gt_off[f + 1] - m->gt_off[f] > maxg) maxg = m->gt_off[f + 1] - m->gt_off[f];
        if (m->pred_off[f + 1] - m->pred_off[f] > maxp) maxp = m->pred_off[f + 1] - m->pred_off[f];
    }
    rowsum = malloc((size_t)maxg * sizeof *rowsum);
    colsum = malloc((size_t)maxp * sizeof *colsum);
    if (!rowsum || !colsum) goto oom;
    for (int64_t f = 0; f < m->nframes; f++) {
        int ng = (int)(m->gt_off[f + 1] - m->gt_off[f]), np = (int)(m->pred_off[f + 1] - m->pred_off[f]);
        for (int i = 0; i < ng; i++) rowsum[i] = 0;
        for (int i = 0; i < np; i++) colsum[i] = 0;
        for (int64_t k = m->pair_off[f]; k < m->pair_off[f + 1]; k++) {
            rowsum[m->pair_gt[k]] += m->pair_sim[k];
            colsum[m->pair_pred[k]] += m->pair_sim[k];
        }
        for (int64_t k = m->pair_off[f]; k < m->pair_off[f + 1]; k++) {
            double s = m->pair_sim[k];
            double denom = rowsum[m->pair_gt[k]] + colsum[m->pair_pred[k]] - s;
            if (denom > EPS) pot[slot_of_pair[k]] += s / denom;
            if (s >= threshold) idcount[slot_of_pair[k]] += 1;
        }
    }
    /* slot -> (g, p) back from the table */
    int64_t *slot_g = malloc(((size_t)NS + 1) * sizeof *slot_g), *slot_p = malloc(((size_t)NS + 1) * sizeof *slot_p);
    if (!slot_g || !slot_p) {
        free(slot_g); free(slot_p);
        goto oom;
    }
    for (size_t i = 0; i < pt.cap; i++)
        if (pt.key[i]) {
            uint64_t k = pt.key[i] - 1;
            slot_g[pt.slot[i]] = (int64_t)(k / (uint64_t)(NP + 1));
            slot_p[pt.slot[i]] = (int64_t)(k % (uint64_t)(NP + 1));
        }
    for (int64_t s = 0; s < NS; s++)
        align[s] = pot[s] / ((double)gcount[slot_g[s]] + (double)pcount[slot_p[s]] - pot[s]);

    /* ---- HOTA pass 2 */
    double tp[SM_HOTA_ALPHAS] = {0}, fn[SM_HOTA_ALPHAS] = {0}, fp[SM_HOTA_ALPHAS] = {0}, loc[SM_HOTA_ALPHAS] = {0};
    for (int64_t f = 0; f < m->nframes && rc == 0; f++) {
        int ng = (int)(m->gt_off[f + 1] - m->gt_off[f]), np = (int)(m->pred_off[f + 1] - m->pred_off[f]);
        int64_t k0 = m->pair_off[f], npairs = m->pair_off[f + 1] - k0;
        if (ng == 0 || np == 0) {
            for (int a = 0; a < SM_HOTA_ALPHAS; a++) {
                fp[a] += np;
                fn[a] += ng;
            }
            continue;
        }
        for (int64_t k = 0; k < npairs; k++) w[k] = align[slot_of_pair[k0 + k]] * m->pair_sim[k0 + k];
        rc = solve_frame(&L, ng, np, npairs, m->pair_gt + k0, m->pair_pred + k0, w, chosen, err);
        if (rc < 0) break;
        for (int a = 0; a < SM_HOTA_ALPHAS; a++) {
            double alpha = 0.05 * (a + 1);
            int nm = 0;
            for (int64_t k = 0; k < npairs; k++) {
                if (!chosen[k]) continue;
                double s = m->pair_sim[k0 + k];
                if (s < alpha - EPS) continue;
                nm++;
                loc[a] += s;
                mcount[slot_of_pair[k0 + k] * SM_HOTA_ALPHAS + a]++;
            }
            tp[a] += nm;
            fn[a] += ng - nm;
            fp[a] += np - nm;
        }
    }
    if (rc == 0) {
        for (int a = 0; a < SM_HOTA_ALPHAS; a++) {
            double ass = 0;
            for (int64_t s = 0; s < NS; s++) {
                double mc = (double)mcount[s * SM_HOTA_ALPHAS + a];
                if (mc == 0) continue;
                double denom = (double)gcount[slot_g[s]] + (double)pcount[slot_p[s]] - mc;
                ass += mc * (mc / (denom > 1 ? denom : 1));
            }
            double assa = ass / (tp[a] > 1 ? tp[a] : 1);
            double da = tp[a] + fn[a] + fp[a];
            double deta = tp[a] / (da > 1 ? da : 1);
            out->assa_alpha[a] = assa;
            out->deta_alpha[a] = deta;
            out->hota_alpha[a] = sqrt(deta * assa);
            out->hota += out->hota_alpha[a] / SM_HOTA_ALPHAS;
            out->deta += deta / SM_HOTA_ALPHAS;
            out->assa += assa / SM_HOTA_ALPHAS;
            double l = (loc[a] > 1e-10 ? loc[a] : 1e-10) / (tp[a] > 1e-10 ? tp[a] : 1e-10);
            out->loca += l / SM_HOTA_ALPHAS;
        }
    }

    /* ---- Identity: maximum-weight id assignment */
    if (rc == 0 && NS > 0) {
        int64_t *ptr = calloc((size_t)NG + 1, sizeof *ptr);
        int *col = malloc((size_t)NS * sizeof *col), *asg = malloc((size_t)NG * sizeof *asg);
        double *cost = malloc((size_t)NS * sizeof *cost);
        int64_t *fillp = malloc((size_t)NG * sizeof *fillp);
        if (!ptr || !col || !asg || !cost || !fillp) {
            free(ptr); free(col); free(asg); free(cost); free(fillp);
            free(slot_g); free(slot_p);
            goto oom;
        }
        for (int64_t s = 0; s < NS; s++)
            if (idcount[s] > 0) ptr[slot_g[s] + 1]++;
        for (int64_t g = 0; g < NG; g++) ptr[g + 1] += ptr[g];
        for (int64_t g = 0; g < NG; g++) fillp[g] = ptr[g];
        for (int64_t s = 0; s < NS; s++)
            if (idcount[s] > 0) {
                int64_t e = fillp[slot_g[s]]++;
                col[e] = (int)slot_p[s];
                cost[e] = -idcount[s];
            }
        rc = sm_lap_sparse((int)NG, (int)NP, ptr, col, cost, NULL, NULL, 0, asg, err);
        if (rc == 0)
            for (int64_t g = 0; g < NG; g++) {
                if (asg[g] < 0) continue;
                int64_t s = pt_find(&pt, (uint64_t)g * (uint64_t)(NP + 1) + (uint64_t)asg[g] + 1);
                if (s >= 0) out->idtp += (int64_t)idcount[s];
            }
        free(ptr); free(col); free(asg); free(cost); free(fillp);
    }
    free(slot_g);
    free(slot_p);
    out->idfn = out->num_gt_dets - out->idtp;
    out->idfp = out->num_pred_dets - out->idtp;
    {
        double d = out->idtp + 0.5 * out->idfp + 0.5 * out->idfn;
        out->idf1 = out->idtp / (d > 1 ? d : 1);
        d = (double)(out->idtp + out->idfn);
        out->idr = out->idtp / (d > 1 ? d : 1);
        d = (double)(out->idtp + out->idfp);
        out->idp = out->idtp / (d > 1 ? d : 1);
    }

    /* ---- CLEAR */
    for (int64_t g = 0; g < NG; g++) prev_ts[g] = prev_trk[g] = -1;
    double motp_sum = 0;
    for (int64_t f = 0; f < m->nframes && rc == 0; f++) {
        int64_t g0 = m->gt_off[f], p0 = m->pred_off[f], k0 = m->pair_off[f];
        int ng = (int)(m->gt_off[f + 1] - g0), np = (int)(m->pred_off[f + 1] - p0);
        int64_t npairs = m->pair_off[f + 1] - k0;
        if (ng == 0) {
            out->fp += np;
            continue;
        }
        if (np == 0) {
            out->fn += ng;
            continue;
        }
        for (int64_t k = 0; k < npairs; k++) {
            double s = m->pair_sim[k0 + k];
            int g = dg[g0 + m->pair_gt[k0 + k]], p = dp[p0 + m->pair_pred[k0 + k]];
            w[k] = s < threshold - EPS ? 0 : s + (prev_ts[g] == p ? 1000 : 0);
        }
        rc = solve_frame(&L, ng, np, npairs, m->pair_gt + k0, m->pair_pred + k0, w, chosen, err);
        if (rc < 0) break;
        int nm = 0;
        /* not previously tracked: prev_ts before this frame's update */
        int64_t *matched_to = malloc((size_t)ng * sizeof *matched_to);
        if (!matched_to) goto oom;
        for (int i = 0; i < ng; i++) matched_to[i] = -1;
        for (int64_t k = 0; k < npairs; k++) {
            if (!chosen[k] || !(w[k] > EPS)) continue;
            int gi = m->pair_gt[k0 + k];
            int p = dp[p0 + m->pair_pred[k0 + k]], g = dg[g0 + gi];
            matched_to[gi] = p;
            nm++;
            motp_sum += m->pair_sim[k0 + k];
            if (prev_trk[g] >= 0 && prev_trk[g] != p) out->id_switches++;
        }
        /* frag: tracked now, not tracked at the previous (counted) frame */
        int64_t *was = malloc((size_t)ng * sizeof *was);
        if (!was) {
            free(matched_to);
            goto oom;
        }
        for (int i = 0; i < ng; i++) was[i] = prev_ts[dg[g0 + i]];
        for (int64_t g = 0; g < NG; g++) prev_ts[g] = -1;   /* O(NG) per frame; NG is small in practice */
        for (int i = 0; i < ng; i++) {
            int g = dg[g0 + i];
            if (matched_to[i] >= 0) {
                prev_trk[g] = matched_to[i];
                prev_ts[g] = matched_to[i];
                if (was[i] < 0) frag[g]++;
            }
        }
        /* truth ids absent from this frame were reset too, which the loop above already did */
        free(was);
        free(matched_to);
        out->tp += nm;
        out->fn += ng - nm;
        out->fp += np - nm;
    }
    if (rc == 0) {
        for (int64_t g = 0; g < NG; g++)
            if (frag[g] > 0) out->fragmentations += frag[g] - 1;
        double d = (double)(out->tp + out->fn);
        out->mota = (double)(out->tp - out->fp - out->id_switches) / (d > 1 ? d : 1);
        out->motp = motp_sum / (out->tp > 1 ? (double)out->tp : 1);
    }
    goto done;
oom:
    rc = sm_error_set(err, SM_ENOMEM, "tracking metrics: out of memory");
done:
    free(ug); free(up); free(dg); free(dp); free(gcount); free(pcount); free(prev_ts); free(prev_trk); free(frag);
    free(pt.key); free(pt.slot); free(pot); free(align); free(w); free(idcount); free(rowsum); free(colsum);
    free(mcount); free(slot_of_pair); free(chosen);
    free(L.ptr); free(L.col); free(L.assign); free(L.order); free(L.cost);
    return rc;
}
