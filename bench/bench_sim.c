/* Simulator speed: frames per second generated in memory at 1024x1024 px with 10 particles (medium preset:
 * mixed shapes 16-30 px, Brownian motion, correlated shot noise, 8-bit), with 1 and 2 threads, with and
 * without labels and truth rows, and with the JPEG round trip. The target is 200 frames/s on 2 cores.
 * Writes its markdown section to the path given as the only argument. Wall time and process CPU time
 * are both reported, with the load average, because the machine may be shared. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "samem/sim.h"

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

typedef struct result {
    double fps, cpu_ms_per_frame;
} result;

static int run(const sm_sim_config *c, int threads, int with_truth, int frames, result *out) {
    sm_error err = {0};
    sm_sim *s;
    omp_set_num_threads(threads);
    if (sm_sim_create(&s, c, 1, &err) < 0) {
        fprintf(stderr, "bench_sim: %s\n", err.msg);
        return 1;
    }
    size_t plane = (size_t)c->width * c->height;
    float *f = malloc(sizeof(float) * plane);
    uint16_t *l = with_truth ? malloc(sizeof(uint16_t) * plane) : NULL;
    sm_tracks *t = with_truth ? sm_tracks_create() : NULL;
    for (int i = 0; i < 5; i++) sm_sim_next_frame(s, f, l, t, &err);  /* warm up */
    double t0 = sm_now(), c0 = cpu_seconds();
    for (int i = 0; i < frames; i++) {
        if (sm_sim_next_frame(s, f, l, t, &err) < 0) {
            fprintf(stderr, "bench_sim: %s\n", err.msg);
            return 1;
        }
        if (t) sm_tracks_clear(t);
    }
    double wall = sm_now() - t0, cpu = cpu_seconds() - c0;
    out->fps = frames / wall;
    out->cpu_ms_per_frame = cpu / frames * 1e3;
    sm_sim_destroy(s);
    free(f);
    free(l);
    sm_tracks_destroy(t);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: bench_sim OUT.md\n");
        return 1;
    }
    /* On a shared machine, threads spinning at OpenMP barriers burn the CPU the other thread needs; the
     * runtime reads OMP_WAIT_POLICY when it loads, so set it and start again. */
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        execv("/proc/self/exe", argv);
    }
    sm_sim_config c;
    sm_sim_config_preset(&c, "medium", NULL);
    c.width = c.height = 1024;
    c.n_particles = 10;
    const int frames = 200;
    struct { const char *what; int threads, truth, jpeg; } cases[] = {
        {"frames only", 1, 0, 0},
        {"frames only", 2, 0, 0},
        {"frames + labels + truth rows", 2, 1, 0},
        {"frames + labels + truth, JPEG q90 round trip", 2, 1, 90},
    };
    const int n = (int)(sizeof cases / sizeof cases[0]);
    result r[8];
    double load[3] = {0, 0, 0};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = NAN;
        fclose(la);
    }
    for (int i = 0; i < n; i++) {
        c.jpeg_quality = cases[i].jpeg;
        if (run(&c, cases[i].threads, cases[i].truth, frames, &r[i])) return 1;
        fprintf(stderr, "bench_sim: %s, %d thread(s): %.1f frames/s (%.2f ms CPU per frame)\n", cases[i].what,
                cases[i].threads, r[i].fps, r[i].cpu_ms_per_frame);
    }
    FILE *fp = fopen(argv[1], "w");
    if (!fp) {
        perror(argv[1]);
        return 1;
    }
    fprintf(fp, "## Simulator (bench_sim)\n\n");
    fprintf(fp, "`build/bench_sim bench/results/bench_sim.md`: %d frames of 1024x1024 px, 10 particles, medium preset "
                "(mixed shapes 16-30 px, Brownian, correlated shot noise, 8-bit), generated in memory after 5 warm-up "
                "frames. Target: 200 frames/s on 2 cores. Load average when it started: %.2f (the machine is shared, "
                "so wall-clock figures are lower bounds; CPU ms per frame is the cost). OMP_WAIT_POLICY=%s.\n\n",
            frames, load[0], getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY") : "default");
    fprintf(fp, "| case | threads | frames/s (wall) | CPU ms per frame | ns per pixel (CPU) |\n|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++)
        fprintf(fp, "| %s | %d | %.1f | %.2f | %.1f |\n", cases[i].what, cases[i].threads, r[i].fps, r[i].cpu_ms_per_frame,
                r[i].cpu_ms_per_frame * 1e6 / (1024.0 * 1024.0));
    fclose(fp);
    return 0;
}
