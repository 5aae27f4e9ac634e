/* Exact sparse linear assignment with optional non-assignment, for frame-to-frame linking and for the
 * optimal matchings of src/metrics.
 *
 * Why: linking must be optimal over the whole frame (greedy nearest-neighbour swaps identities of close
 * particles), and frames hold up to thousands of particles with a handful of candidates each, so the solver
 * works on the candidate pairs only.
 * How: the rectangular problem with "unassigned" costs becomes a square one of size n+m (Jaqaman et al.
 * 2008, Nat. Methods 5:695, fig. 1b): block (rows, cols) holds the candidate costs, block (rows, row dummies)
 * a diagonal of row_unmatched, block (col dummies, cols) a diagonal of col_unmatched, and block (col dummies,
 * row dummies) the transposed candidate pattern at cost 0, so that every candidate set has a perfect matching
 * and the optimum of the square problem is the optimum of the original one. The square problem is solved by
 * successive shortest augmenting paths with column potentials (Jonker and Volgenant 1987, Computing 38:325,
 * the "augment" phase), Dijkstra on a binary heap over the sparse rows. Each augmentation touches only the
 * columns it labels, so well separated particles cost O(degree log degree) each.
 * Left out: JV's column reduction and augmenting row reduction initialisation (not needed for sparse
 * frames), and epsilon-scaling auction.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samem/track.h"

typedef struct heap_item { double d; int j; } heap_item;

typedef struct heap {
    heap_item *a;
    int64_t n, cap;
} heap;

static int heap_push(heap *h, double d, int j) {
    if (h->n == h->cap) {
        int64_t cap = h->cap ? h->cap * 2 : 64;
        heap_item *p = realloc(h->a, (size_t)cap * sizeof *p);
        if (!p) return -1;
        h->a = p;
        h->cap = cap;
    }
    int64_t i = h->n++;
    while (i > 0) {
        int64_t parent = (i - 1) / 2;
        if (h->a[parent].d <= d) break;
        h->a[i] = h->a[parent];
        i = parent;
    }
    h->a[i].d = d;
    h->a[i].j = j;
    return 0;
}

static heap_item heap_pop(heap *h) {
    heap_item top = h->a[0];
    heap_item last = h->a[--h->n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->a[c + 1].d < h->a[c].d) c++;
        if (h->a[c].d >= last.d) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n > 0) h->a[i] = last;
    return top;
}

/* Square sparse assignment: N rows and columns, CSR (ptr, idx, c); x receives row -> column. Returns 0, -1 on
 * allocation failure, -2 when no perfect matching exists. */
static int lap_square(int N, const int64_t *ptr, const int *idx, const double *c, int *x) {
    double *v = calloc((size_t)N, sizeof *v);
    double *d = malloc((size_t)N * sizeof *d);
    double *xc = malloc((size_t)N * sizeof *xc);
    double *pc = malloc((size_t)N * sizeof *pc);
    int *y = malloc((size_t)N * sizeof *y);
    int *pred = malloc((size_t)N * sizeof *pred);
    unsigned char *state = calloc((size_t)N, 1);
    int *touched = malloc((size_t)N * sizeof *touched);
    int *scanned = malloc((size_t)N * sizeof *scanned);
    heap h = {0};
    int rc = 0;
    if (!v || !d || !xc || !pc || !y || !pred || !state || !touched || !scanned) {
        rc = -1;
        goto done;
    }
    for (int i = 0; i < N; i++) {
        x[i] = -1;
        y[i] = -1;
        d[i] = INFINITY;
    }
    for (int f = 0; f < N; f++) {
        int nt = 0, ns = 0, end = -1;
        double mu = 0;
        h.n = 0;
        for (int64_t e = ptr[f]; e < ptr[f + 1]; e++) {
            int j = idx[e];
            double hval = c[e] - v[j];
            if (!state[j]) {
                state[j] = 1;
                touched[nt++] = j;
            }
            if (hval < d[j]) {
                d[j] = hval;
                pred[j] = f;
                pc[j] = c[e];
                if (heap_push(&h, hval, j)) { rc = -1; goto done; }
            }
        }
        while (h.n > 0) {
            heap_item it = heap_pop(&h);
            int j = it.j;
            if (state[j] == 2 || it.d > d[j]) continue;
            mu = it.d;
            if (y[j] < 0) {
                end = j;
                break;
            }
            state[j] = 2;
            scanned[ns++] = j;
            int i = y[j];
            double ui = xc[i] - v[j];
            for (int64_t e = ptr[i]; e < ptr[i + 1]; e++) {
                int k = idx[e];
                if (state[k] == 2) continue;
                double hval = mu + c[e] - v[k] - ui;
                if (!state[k]) {
                    state[k] = 1;
                    touched[nt++] = k;
                }
                if (hval < d[k]) {
                    d[k] = hval;
                    pred[k] = i;
                    pc[k] = c[e];
                    if (heap_push(&h, hval, k)) { rc = -1; goto done; }
                }
            }
        }
        if (end < 0) {
            rc = -2;
            goto done;
        }
        for (int s = 0; s < ns; s++) v[scanned[s]] += d[scanned[s]] - mu;
        for (int j = end;;) {
            int i = pred[j];
            double cost = pc[j];
            y[j] = i;
            int k = x[i];
            x[i] = j;
            xc[i] = cost;
            if (i == f) break;
            j = k;
        }
        for (int t = 0; t < nt; t++) {
            d[touched[t]] = INFINITY;
            state[touched[t]] = 0;
        }
    }
done:
    free(v); free(d); free(xc); free(pc); free(y); free(pred); free(state); free(touched); free(scanned);
    free(h.a);
    return rc;
}

int sm_lap_sparse(int n, int m, const int64_t *row_ptr, const int *col, const double *cost,
                  const double *row_unmatched, const double *col_unmatched, double unmatched, int *row_to_col,
                  sm_error *err) {
    if (n < 0 || m < 0) return sm_error_set(err, SM_EINVAL, "assignment: negative size");
    for (int i = 0; i < n; i++) row_to_col[i] = -1;
    if (n == 0 || m == 0) return 0;
    int64_t npairs = row_ptr[n];
    for (int64_t e = 0; e < npairs; e++) {
        if (col[e] < 0 || col[e] >= m) return sm_error_set(err, SM_EINVAL, "assignment: column %d out of range", col[e]);
        if (!isfinite(cost[e])) return sm_error_set(err, SM_EINVAL, "assignment: non-finite cost");
    }
    int N = n + m;
    int64_t nnz = 2 * npairs + N;
    int64_t *ptr = malloc(((size_t)N + 1) * sizeof *ptr);
    int *idx = malloc((size_t)nnz * sizeof *idx);
    double *c = malloc((size_t)nnz * sizeof *c);
    int64_t *colcount = calloc((size_t)m + 1, sizeof *colcount);
    int *x = malloc((size_t)N * sizeof *x);
    int rc = 0;
    if (!ptr || !idx || !c || !colcount || !x) {
        rc = sm_error_set(err, SM_ENOMEM, "assignment: out of memory for %d x %d", n, m);
        goto done;
    }
    /* rows 0..n-1: candidates, then the row's own dummy column m+i */
    int64_t e = 0;
    for (int i = 0; i < n; i++) {
        ptr[i] = e;
        for (int64_t k = row_ptr[i]; k < row_ptr[i + 1]; k++) {
            idx[e] = col[k];
            c[e++] = cost[k];
        }
        idx[e] = m + i;
        c[e++] = row_unmatched ? row_unmatched[i] : unmatched;
    }
    /* rows n+j: column j at its unmatched cost, then dummy columns m+i of every candidate (i, j) at 0 */
    for (int64_t k = 0; k < npairs; k++) colcount[col[k] + 1]++;
    for (int j = 0; j < m; j++) colcount[j + 1] += colcount[j] + 1;   /* +1 for the diagonal entry */
    for (int j = 0; j < m; j++) {
        ptr[n + j] = e + colcount[j];
        idx[e + colcount[j]] = j;
        c[e + colcount[j]] = col_unmatched ? col_unmatched[j] : unmatched;
    }
    ptr[N] = nnz;
    {
        int64_t *fill = malloc((size_t)m * sizeof *fill);
        if (!fill) {
            rc = sm_error_set(err, SM_ENOMEM, "assignment: out of memory");
            goto done;
        }
        for (int j = 0; j < m; j++) fill[j] = ptr[n + j] + 1;
        for (int i = 0; i < n; i++)
            for (int64_t k = row_ptr[i]; k < row_ptr[i + 1]; k++) {
                int j = col[k];
                idx[fill[j]] = m + i;
                c[fill[j]++] = 0;
            }
        free(fill);
    }
    int r = lap_square(N, ptr, idx, c, x);
    if (r == -1) {
        rc = sm_error_set(err, SM_ENOMEM, "assignment: out of memory");
        goto done;
    }
    if (r == -2) {
        rc = sm_error_set(err, SM_EINTERNAL, "assignment: no perfect matching (bug)");
        goto done;
    }
    for (int i = 0; i < n; i++) row_to_col[i] = x[i] < m ? x[i] : -1;
done:
    free(ptr); free(idx); free(c); free(colcount); free(x);
    return rc;
}
