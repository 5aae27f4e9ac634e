/* Run-time helpers: clock, peak memory, the progress bar, thread count, and the seeded random number
 * generator (xoshiro256** by Blackman and Vigna, seeded through splitmix64; Poisson variates by Knuth's
 * multiplication for small means and the PTRS transformed rejection of Hormann 1993 for large ones). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "samem/common.h"

double sm_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t sm_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024;
}

void sm_set_threads(int n) {
    if (n > 0) omp_set_num_threads(n);
}

/* ---------------------------------------------------------------- progress */

void sm_progress_start(sm_progress *p, const char *label, int64_t total, int quiet) {
    p->label = label;
    p->total = total;
    p->done = 0;
    p->t_start = sm_now();
    p->t_last_draw = 0;
    p->enabled = !quiet && isatty(STDERR_FILENO);
}

static void progress_draw(sm_progress *p, double now) {
    double elapsed = now - p->t_start;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    fprintf(stderr, "\r%-10s %lld/%lld  %.1f/s", p->label, (long long)p->done, (long long)p->total, rate);
    if (rate > 0 && p->total > p->done) fprintf(stderr, "  ETA %.0fs", (double)(p->total - p->done) / rate);
    fprintf(stderr, "   ");
    fflush(stderr);
    p->t_last_draw = now;
}

void sm_progress_update(sm_progress *p, int64_t done) {
    p->done = done;
    if (!p->enabled) return;
    double now = sm_now();
    if (now - p->t_last_draw >= 0.2) progress_draw(p, now);
}

void sm_progress_finish(sm_progress *p) {
    if (!p->enabled) return;
    progress_draw(p, sm_now());
    fputc('\n', stderr);
}

/* ---------------------------------------------------------------- random numbers */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sm_rng_seed(sm_rng *r, uint64_t seed) { sm_rng_seed_stream(r, seed, 0); }

void sm_rng_seed_stream(sm_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    x = splitmix64(&x) ^ stream;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sm_rng_u64(sm_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sm_rng_uniform(sm_rng *r) { return (double)(sm_rng_u64(r) >> 11) * 0x1.0p-53; }

double sm_rng_normal(sm_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * sm_rng_uniform(r) - 1.0;
        v = 2.0 * sm_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double m = sqrt(-2.0 * log(s) / s);
    r->spare = v * m;
    r->has_spare = 1;
    return u * m;
}

uint64_t sm_rng_below(sm_rng *r, uint64_t n) {
    if (n == 0) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = sm_rng_u64(r);
    while (x >= limit);
    return x % n;
}

uint64_t sm_rng_poisson(sm_rng *r, double mean) {
    if (!(mean > 0)) return 0;
    if (mean < 10) {
        double limit = exp(-mean), p = 1.0;
        uint64_t k = 0;
        for (;;) {
            p *= sm_rng_uniform(r);
            if (p <= limit) return k;
            k++;
        }
    }
    if (mean > 1e7) {
        double v = mean + sqrt(mean) * sm_rng_normal(r);
        return v < 0 ? 0 : (uint64_t)llround(v);
    }
    /* PTRS (Hormann 1993) */
    double slam = sqrt(mean), loglam = log(mean);
    double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
        double u = sm_rng_uniform(r) - 0.5, v = sm_rng_uniform(r);
        double us = 0.5 - fabs(u);
        double k = floor((2 * a / us + b) * u + mean + 0.43);
        if (us >= 0.07 && v <= vr) return (uint64_t)k;
        if (k < 0 || (us < 0.013 && v > us)) continue;
        if (log(v) + log(invalpha) - log(a / (us * us) + b) <= -mean + k * loglam - lgamma(k + 1))
            return (uint64_t)k;
    }
}
