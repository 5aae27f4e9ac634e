/* Segmentation scores per object and frame: IoU (J), Dice, DAVIS boundary F, J&F, centroid error and Cell
 * Tracking Challenge SEG, with objects paired by label or by optimal assignment (definitions in
 * include/samem/metrics.h).
 *
 * Why: to say how good masks are, object by object, against simulated or hand-drawn truth.
 * Spec: DAVIS 2016/2017 (Perazzi et al. 2016; Pont-Tuset et al. 2017; the davis2017-evaluation code's
 * f_measure with bound_th 0.008), CTC SEG (Ulman et al. 2017, Nat. Methods 14:1141; Maska et al. 2014).
 * How: per frame, one pass counts the overlap of every (pred, truth) label pair in a small hash table; areas
 * and centroids come from sm_track_measure; pairs are chosen by label or by the exact assignment maximising
 * the summed IoU; the boundary F of a pair is computed in the union of both bounding boxes grown by the
 * tolerance, by stamping a disk around each boundary pixel.
 * Left out: DAVIS's particular boundary thinning (bwmorph 'thin' on its boundary map); our boundary is the
 * inner 4-connected contour, which matches it on the shapes we score to within a pixel of tolerance.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samem/metrics.h"
#include "samem/track.h"

struct sm_seg_eval {
    sm_seg_params p;
    sm_seg_object *rows;
    int64_t n, cap;
    int64_t n_gt, n_pred, n_pairs, frames;
    double ctc_sum;
    int64_t ctc_n;
    unsigned char *scratch;   /* boundary maps of one pair's window */
    size_t cap_scratch;
};

void sm_seg_params_default(sm_seg_params *p) {
    p->match = SM_MATCH_OPTIMAL;
    p->bound_th = 0.008;
}

sm_seg_eval *sm_seg_eval_create(const sm_seg_params *p, sm_error *err) {
    if (p->match != SM_MATCH_OPTIMAL && p->match != SM_MATCH_ID) {
        sm_error_set(err, SM_EINVAL, "segmentation metrics: unknown matching mode %d", p->match);
        return NULL;
    }
    if (!(p->bound_th > 0)) {
        sm_error_set(err, SM_EINVAL, "segmentation metrics: boundary tolerance must be positive");
        return NULL;
    }
    sm_seg_eval *e = calloc(1, sizeof *e);
    if (!e) {
        sm_error_set(err, SM_ENOMEM, "segmentation metrics: out of memory");
        return NULL;
    }
    e->p = *p;
    return e;
}

void sm_seg_eval_destroy(sm_seg_eval *e) {
    if (!e) return;
    free(e->rows);
    free(e->scratch);
    free(e);
}

void sm_seg_scores_free(sm_seg_scores *s) {
    if (!s) return;
    free(s->objects);
    s->objects = NULL;
}

static int add_row(sm_seg_eval *e, int64_t frame, int g, int p, double iou, double dice, double f, double cerr,
                   sm_error *err) {
    if (e->n == e->cap) {
        int64_t cap = e->cap ? e->cap * 2 : 256;
        sm_seg_object *q = realloc(e->rows, (size_t)cap * sizeof *q);
        if (!q) return sm_error_set(err, SM_ENOMEM, "segmentation metrics: out of memory");
        e->rows = q;
        e->cap = cap;
    }
    sm_seg_object *r = &e->rows[e->n++];
    r->frame = frame;
    r->gt_label = g;
    r->pred_label = p;
    r->iou = iou;
    r->dice = dice;
    r->f = f;
    r->jf = 0.5 * (iou + f);
    r->centroid_err = cerr;
    return 0;
}

/* Boundary F of pred==pl against gt==gl inside the window [X0..X1]x[Y0..Y1] (clipped to the image), with
 * tolerance radius r px. */
static int boundary_f(sm_seg_eval *e, const uint16_t *pred, int pl, const uint16_t *gt, int gl, int W, int H,
                      int X0, int Y0, int X1, int Y1, int r, double *out, sm_error *err) {
    if (X0 < 0) X0 = 0;
    if (Y0 < 0) Y0 = 0;
    if (X1 > W - 1) X1 = W - 1;
    if (Y1 > H - 1) Y1 = H - 1;
    int w = X1 - X0 + 1, h = Y1 - Y0 + 1;
    size_t n = (size_t)w * (size_t)h;
    if (n * 4 > e->cap_scratch) {
        unsigned char *q = realloc(e->scratch, n * 4);
        if (!q) return sm_error_set(err, SM_ENOMEM, "segmentation metrics: out of memory");
        e->scratch = q;
        e->cap_scratch = n * 4;
    }
    unsigned char *bp = e->scratch, *bg = bp + n, *dp = bg + n, *dg = dp + n;
    memset(e->scratch, 0, n * 4);
    int64_t np = 0, ng = 0;
    for (int y = Y0; y <= Y1; y++)
        for (int x = X0; x <= X1; x++) {
            size_t i = (size_t)y * W + x, li = (size_t)(y - Y0) * w + (x - X0);
            for (int which = 0; which < 2; which++) {
                const uint16_t *pl_ = which ? gt : pred;
                int lab = which ? gl : pl;
                if (pl_[i] != lab) continue;
                int edge = x == 0 || y == 0 || x == W - 1 || y == H - 1 || pl_[i - 1] != lab || pl_[i + 1] != lab ||
                           pl_[i - W] != lab || pl_[i + W] != lab;
                if (!edge) continue;
                if (which) {
                    bg[li] = 1;
                    ng++;
                } else {
                    bp[li] = 1;
                    np++;
                }
            }
        }
    if (np == 0 && ng == 0) {
        *out = 1;
        return 0;
    }
    if (np == 0 || ng == 0) {
        *out = 0;
        return 0;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t li = (size_t)y * w + x;
            if (!bp[li] && !bg[li]) continue;
            for (int dy = -r; dy <= r; dy++) {
                int yy = y + dy;
                if (yy < 0 || yy >= h) continue;
                for (int dx = -r; dx <= r; dx++) {
                    int xx = x + dx;
                    if (xx < 0 || xx >= w || dx * dx + dy * dy > r * r) continue;
                    size_t lj = (size_t)yy * w + xx;
                    if (bp[li]) dp[lj] = 1;
                    if (bg[li]) dg[lj] = 1;
                }
            }
        }
    int64_t hp = 0, hg = 0;
    for (size_t i = 0; i < n; i++) {
        hp += bp[i] && dg[i];
        hg += bg[i] && dp[i];
    }
    double P = (double)hp / (double)np, R = (double)hg / (double)ng;
    *out = P + R > 0 ? 2 * P * R / (P + R) : 0;
    return 0;
}

/* overlap counts of (pred, gt) label pairs */
typedef struct ov { uint32_t key; int64_t count; } ov;

int sm_seg_eval_add_frame(sm_seg_eval *e, int64_t frame, const uint16_t *pred, const uint16_t *gt, int width,
                          int height, sm_mot *mot, sm_error *err) {
    if (width <= 0 || height <= 0) return sm_error_set(err, SM_EINVAL, "segmentation metrics: bad size %dx%d", width, height);
    sm_track_object *po = NULL, *go = NULL;
    int npo = 0, ngo = 0, rc;
    ov *tab = NULL;
    int *pidx = NULL, *gidx = NULL, *pg = NULL, *pp = NULL, *asg = NULL, *col = NULL, *gmatch = NULL, *pmatch = NULL;
    double *iou = NULL, *cost = NULL;
    int64_t *ptr = NULL, *gids = NULL, *pids = NULL, *inter = NULL;
    if ((rc = sm_track_measure(pred, NULL, width, height, &po, &npo, err)) < 0) goto done;
    if ((rc = sm_track_measure(gt, NULL, width, height, &go, &ngo, err)) < 0) goto done;
    e->frames++;
    e->n_gt += ngo;
    e->n_pred += npo;
    /* label -> object index */
    pidx = malloc(65536 * sizeof *pidx);
    gidx = malloc(65536 * sizeof *gidx);
    if (!pidx || !gidx) goto oom;
    for (int i = 0; i < npo; i++) pidx[po[i].label] = i;
    for (int i = 0; i < ngo; i++) gidx[go[i].label] = i;
    size_t cap = 64;
    while (cap < 4 * (size_t)(npo + ngo) + 16) cap *= 2;
    tab = calloc(cap, sizeof *tab);
    if (!tab) goto oom;
    size_t npx = (size_t)width * height, nov = 0;
    for (size_t i = 0; i < npx; i++) {
        if (!pred[i] || !gt[i]) continue;
        uint32_t key = ((uint32_t)pred[i] << 16) | gt[i];
        size_t h = (size_t)((key * 2654435761u) >> 8) & (cap - 1);
        while (tab[h].count && tab[h].key != key) h = (h + 1) & (cap - 1);
        if (!tab[h].count) {
            tab[h].key = key;
            nov++;
            if (2 * nov > cap) {
                /* grow and rehash */
                size_t ncap = cap * 2;
                ov *nt = calloc(ncap, sizeof *nt);
                if (!nt) goto oom;
                tab[h].count = 1;
                for (size_t k = 0; k < cap; k++) {
                    if (!tab[k].count) continue;
                    size_t hh = (size_t)((tab[k].key * 2654435761u) >> 8) & (ncap - 1);
                    while (nt[hh].count) hh = (hh + 1) & (ncap - 1);
                    nt[hh] = tab[k];
                }
                free(tab);
                tab = nt;
                cap = ncap;
                continue;
            }
        }
        tab[h].count++;
    }
    /* pairs: (gt index, pred index, intersection, iou) */
    pg = malloc((nov + 1) * sizeof *pg);
    pp = malloc((nov + 1) * sizeof *pp);
    inter = malloc((nov + 1) * sizeof *inter);
    iou = malloc((nov + 1) * sizeof *iou);
    if (!pg || !pp || !inter || !iou) goto oom;
    int np = 0;
    for (size_t k = 0; k < cap; k++) {
        if (!tab[k].count) continue;
        int pl = (int)(tab[k].key >> 16), gl = (int)(tab[k].key & 0xffff);
        pp[np] = pidx[pl];
        pg[np] = gidx[gl];
        inter[np] = tab[k].count;
        iou[np] = (double)tab[k].count / (po[pp[np]].area + go[pg[np]].area - (double)tab[k].count);
        np++;
    }
    /* CTC SEG: each truth object's pred covering > half of it */
    for (int g = 0; g < ngo; g++) {
        double j = 0;
        for (int k = 0; k < np; k++)
            if (pg[k] == g && 2 * inter[k] > (int64_t)go[g].area) j = iou[k];
        e->ctc_sum += j;
        e->ctc_n++;
    }
    /* pairing */
    gmatch = malloc(((size_t)ngo + 1) * sizeof *gmatch);
    pmatch = malloc(((size_t)npo + 1) * sizeof *pmatch);
    if (!gmatch || !pmatch) goto oom;
    for (int g = 0; g < ngo; g++) gmatch[g] = -1;
    for (int p = 0; p < npo; p++) pmatch[p] = -1;
    if (e->p.match == SM_MATCH_ID) {
        for (int g = 0; g < ngo; g++) {
            int l = go[g].label;
            /* binary search pred objects (sorted by label) */
            int lo = 0, hi = npo - 1;
            while (lo <= hi) {
                int mid = (lo + hi) / 2;
                if (po[mid].label == l) {
                    gmatch[g] = mid;
                    pmatch[mid] = g;
                    break;
                }
                if (po[mid].label < l) lo = mid + 1;
                else hi = mid - 1;
            }
        }
    } else if (np > 0) {
        ptr = calloc((size_t)ngo + 1, sizeof *ptr);
        col = malloc((size_t)np * sizeof *col);
        cost = malloc((size_t)np * sizeof *cost);
        asg = malloc((size_t)ngo * sizeof *asg);
        int64_t *fill = malloc(((size_t)ngo + 1) * sizeof *fill);
        if (!ptr || !col || !cost || !asg || !fill) {
            free(fill);
            goto oom;
        }
        for (int k = 0; k < np; k++) ptr[pg[k] + 1]++;
        for (int g = 0; g < ngo; g++) ptr[g + 1] += ptr[g];
        for (int g = 0; g < ngo; g++) fill[g] = ptr[g];
        for (int k = 0; k < np; k++) {
            int64_t q = fill[pg[k]]++;
            col[q] = pp[k];
            cost[q] = -iou[k];   /* maximise the summed IoU; unpaired costs 0 */
        }
        free(fill);
        if ((rc = sm_lap_sparse(ngo, npo, ptr, col, cost, NULL, NULL, 0, asg, err)) < 0) goto done;
        for (int g = 0; g < ngo; g++)
            if (asg[g] >= 0) {
                gmatch[g] = asg[g];
                pmatch[asg[g]] = g;
            }
    }
    double diag = sqrt((double)width * width + (double)height * height);
    int r = e->p.bound_th >= 1 ? (int)ceil(e->p.bound_th) : (int)ceil(e->p.bound_th * diag);
    for (int g = 0; g < ngo; g++) {
        int p = gmatch[g];
        if (p < 0) {
            if ((rc = add_row(e, frame, go[g].label, 0, 0, 0, 0, NAN, err)) < 0) goto done;
            continue;
        }
        int64_t I = 0;
        for (int k = 0; k < np; k++)
            if (pg[k] == g && pp[k] == p) I = inter[k];
        double u = po[p].area + go[g].area - (double)I;
        double j = u > 0 ? (double)I / u : 0, dice = 2.0 * (double)I / (po[p].area + go[g].area), f = 0;
        int X0 = (po[p].x0 < go[g].x0 ? po[p].x0 : go[g].x0) - r - 1, Y0 = (po[p].y0 < go[g].y0 ? po[p].y0 : go[g].y0) - r - 1;
        int X1 = (po[p].x1 > go[g].x1 ? po[p].x1 : go[g].x1) + r + 1, Y1 = (po[p].y1 > go[g].y1 ? po[p].y1 : go[g].y1) + r + 1;
        if ((rc = boundary_f(e, pred, po[p].label, gt, go[g].label, width, height, X0, Y0, X1, Y1, r, &f, err)) < 0) goto done;
        double ce = hypot(po[p].x - go[g].x, po[p].y - go[g].y);
        if ((rc = add_row(e, frame, go[g].label, po[p].label, j, dice, f, ce, err)) < 0) goto done;
        e->n_pairs++;
    }
    for (int p = 0; p < npo; p++)
        if (pmatch[p] < 0 && (rc = add_row(e, frame, 0, po[p].label, 0, 0, 0, NAN, err)) < 0) goto done;
    if (mot) {
        gids = malloc(((size_t)ngo + 1) * sizeof *gids);
        pids = malloc(((size_t)npo + 1) * sizeof *pids);
        if (!gids || !pids) goto oom;
        for (int g = 0; g < ngo; g++) gids[g] = go[g].label;
        for (int p = 0; p < npo; p++) pids[p] = po[p].label;
        rc = sm_mot_add_frame(mot, ngo, gids, npo, pids, np, pg, pp, iou, err);
    }
    goto done;
oom:
    rc = sm_error_set(err, SM_ENOMEM, "segmentation metrics: out of memory");
done:
    free(po); free(go); free(tab); free(pidx); free(gidx); free(pg); free(pp); free(asg); free(col); free(gmatch);
    free(pmatch); free(iou); free(cost); free(ptr); free(gids); free(pids); free(inter);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's default percentile: linear interpolation at (n - 1) q */
static double percentile(const double *sorted, int64_t n, double q) {
    double pos = (double)(n - 1) * q;
    int64_t i = (int64_t)floor(pos);
    if (i >= n - 1) return sorted[n - 1];
    double t = pos - (double)i;
    return sorted[i] + t * (sorted[i + 1] - sorted[i]);
}

int sm_seg_eval_finish(const sm_seg_eval *e, sm_seg_scores *out, sm_error *err) {
    memset(out, 0, sizeof *out);
    out->n_rows = e->n;
    out->n_pairs = e->n_pairs;
    out->n_gt = e->n_gt;
    out->n_pred = e->n_pred;
    out->frames = e->frames;
    out->objects = malloc(((size_t)e->n + 1) * sizeof *out->objects);
    double *ce = malloc(((size_t)e->n + 1) * sizeof *ce);
    if (!out->objects || !ce) {
        free(ce);
        sm_seg_scores_free(out);
        return sm_error_set(err, SM_ENOMEM, "segmentation metrics: out of memory");
    }
    if (e->n) memcpy(out->objects, e->rows, (size_t)e->n * sizeof *e->rows);
    double si = 0, sd = 0, sf = 0;
    int64_t nc = 0;
    for (int64_t i = 0; i < e->n; i++) {
        si += e->rows[i].iou;
        sd += e->rows[i].dice;
        sf += e->rows[i].f;
        if (!isnan(e->rows[i].centroid_err)) ce[nc++] = e->rows[i].centroid_err;
    }
    if (e->n) {
        out->iou_mean = si / (double)e->n;
        out->dice_mean = sd / (double)e->n;
        out->f_mean = sf / (double)e->n;
    } else {
        out->iou_mean = out->dice_mean = out->f_mean = 1;
    }
    out->jf_mean = 0.5 * (out->iou_mean + out->f_mean);
    if (nc) {
        qsort(ce, (size_t)nc, sizeof *ce, cmp_double);
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < nc; i++) {
            s += ce[i];
            s2 += ce[i] * ce[i];
        }
        out->centroid_err_mean = s / (double)nc;
        out->centroid_err_rmse = sqrt(s2 / (double)nc);
        out->centroid_err_median = percentile(ce, nc, 0.5);
        out->centroid_err_p95 = percentile(ce, nc, 0.95);
    } else {
        out->centroid_err_mean = out->centroid_err_rmse = out->centroid_err_median = out->centroid_err_p95 = NAN;
    }
    out->ctc_seg = e->ctc_n ? e->ctc_sum / (double)e->ctc_n : NAN;
    free(ce);
    return 0;
}

int sm_seg_objects_write_csv(const sm_seg_scores *s, const char *path, sm_error *err) {
    sm_atomic_file f;
    int rc = sm_atomic_open(&f, path, err);
    if (rc < 0) return rc;
    fprintf(f.fp, "frame,gt,pred,iou,dice,f,jf,centroid_err\n");
    for (int64_t i = 0; i < s->n_rows; i++) {
        const sm_seg_object *o = &s->objects[i];
        fprintf(f.fp, "%lld,%d,%d,", (long long)o->frame, o->gt_label, o->pred_label);
        sm_csv_write_double(f.fp, o->iou);
        fputc(',', f.fp);
        sm_csv_write_double(f.fp, o->dice);
        fputc(',', f.fp);
        sm_csv_write_double(f.fp, o->f);
        fputc(',', f.fp);
        sm_csv_write_double(f.fp, o->jf);
        fputc(',', f.fp);
        sm_csv_write_double(f.fp, o->centroid_err);
        fputc('\n', f.fp);
    }
    return sm_atomic_commit(&f, err);
}
