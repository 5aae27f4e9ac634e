/* The sparse assignment solver against brute-force enumeration of every partial assignment on small random
 * problems (independent naive reference), plus a 2000-row chain whose optimum is known analytically. */
#include <math.h>
#include <stdlib.h>

#include "samem/track.h"
#include "test.h"

static double best;
static int used[16];

/* Naive optimum: row i picks a free column or none. */
static void enumerate(int i, int n, int m, const double *C, const unsigned char *allowed, const double *ru,
                      const double *cu, double acc) {
    if (i == n) {
        for (int j = 0; j < m; j++)
            if (!used[j]) acc += cu[j];
        if (acc < best) best = acc;
        return;
    }
    enumerate(i + 1, n, m, C, allowed, ru, cu, acc + ru[i]);
    for (int j = 0; j < m; j++)
        if (!used[j] && allowed[i * m + j]) {
            used[j] = 1;
            enumerate(i + 1, n, m, C, allowed, ru, cu, acc + C[i * m + j]);
            used[j] = 0;
        }
}

int main(void) {
    sm_rng rng;
    sm_rng_seed(&rng, 7);
    int bad = 0, trials = 400;
    for (int t = 0; t < trials; t++) {
        int n = 1 + (int)sm_rng_below(&rng, 6), m = 1 + (int)sm_rng_below(&rng, 6);
        double C[36], ru[6], cu[6], cost[36];
        unsigned char allowed[36];
        int64_t ptr[7];
        int col[36], a[6];
        int e = 0;
        for (int i = 0; i < n; i++) {
            ptr[i] = e;
            ru[i] = sm_rng_uniform(&rng) * 2;
            for (int j = 0; j < m; j++) {
                C[i * m + j] = sm_rng_uniform(&rng) * 4 - 1;   /* negative costs too */
                allowed[i * m + j] = sm_rng_uniform(&rng) < 0.6;
                if (allowed[i * m + j]) {
                    col[e] = j;
                    cost[e++] = C[i * m + j];
                }
            }
        }
        ptr[n] = e;
        for (int j = 0; j < m; j++) cu[j] = sm_rng_uniform(&rng) * 2;
        sm_error err = {0};
        if (sm_lap_sparse(n, m, ptr, col, cost, ru, cu, 0, a, &err) < 0) {
            bad++;
            continue;
        }
        double got = 0;
        int colused[6] = {0}, valid = 1;
        for (int i = 0; i < n; i++) {
            if (a[i] < 0) {
                got += ru[i];
                continue;
            }
            if (!allowed[i * m + a[i]] || colused[a[i]]) valid = 0;
            colused[a[i]] = 1;
            got += C[i * m + a[i]];
        }
        for (int j = 0; j < m; j++)
            if (!colused[j]) got += cu[j];
        best = INFINITY;
        enumerate(0, n, m, C, allowed, ru, cu, 0);
        if (!valid || fabs(got - best) > 1e-9) bad++;
    }
    SM_CHECKF("400 random problems up to 6x6: assignment valid and optimal (|cost - brute force| < 1e-9)", bad == 0,
              "%d wrong", bad);

    /* chain: row i may take column i (cost 1) or column i+1 (cost 0.5); n rows, n+1 columns; unmatched 10.
     * Optimum: every row takes i+1 (total 0.5 n + 10 for column 0). */
    int n = 2000;
    int64_t *ptr = malloc((n + 1) * sizeof *ptr);
    int *col = malloc(2 * n * sizeof *col);
    double *cost = malloc(2 * n * sizeof *cost);
    int *a = malloc(n * sizeof *a);
    for (int i = 0; i < n; i++) {
        ptr[i] = 2 * i;
        col[2 * i] = i; cost[2 * i] = 1;
        col[2 * i + 1] = i + 1; cost[2 * i + 1] = 0.5;
    }
    ptr[n] = 2 * n;
    sm_error err = {0};
    int rc = sm_lap_sparse(n, n + 1, ptr, col, cost, NULL, NULL, 10, a, &err);
    int ok = rc == 0;
    for (int i = 0; i < n && ok; i++) ok = a[i] == i + 1;
    SM_CHECK("2000-row chain: every row takes its cheaper shifted column", ok);
    /* same chain but with unmatched cost 0.2: nothing is worth linking */
    rc = sm_lap_sparse(n, n + 1, ptr, col, cost, NULL, NULL, 0.2, a, &err);
    ok = rc == 0;
    for (int i = 0; i < n && ok; i++) ok = a[i] == -1;
    SM_CHECK("links costing more than two unmatched costs stay unlinked", ok);
    SM_CHECK("empty problem", sm_lap_sparse(0, 3, ptr, col, cost, NULL, NULL, 1, a, &err) == 0);
    free(ptr); free(col); free(cost); free(a);
    return sm_test_report();
}
