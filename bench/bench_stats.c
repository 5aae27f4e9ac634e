/* bench_stats: motion statistics of 10,000 tracks x 1,000 frames (the target: under 10 s on 2 cores),
 * then the files `samem analyze` writes (stats.json, msd.csv, figures, report) for the same tracks.
 * Tracks: Brownian, D dt = 50 nm^2, sigma = 7 nm, px = 1 nm, dt = 0.05 s, 5% of frames missing (gaps), angles
 * with rotational diffusion, so that every code path (gapped FFT MSD, fits, CVE, rotation, van Hove, VACF)
 * runs. Usage: bench_stats OUT.md [tracks] [frames] [stats-only]; BENCH_STATS_KEEP=DIR keeps the output. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "samem/plot.h"
#include "samem/stats.h"

/* CPU time of this process (user + system), s: less sensitive than wall time to other jobs on the machine. */
static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int main(int argc, char **argv) {
    const char *md = argc > 1 ? argv[1] : "bench/results/bench_stats.md";
    int ntr = argc > 2 ? atoi(argv[2]) : 10000, nf = argc > 3 ? atoi(argv[3]) : 1000;
    sm_error err = {0};
    double t0 = sm_now();
    sm_tracks *t = sm_tracks_create();
    sm_rng rng;
    const double D = 1000, dt = 0.05, sigma = 7, Dr = 0.5;
    for (int k = 0; k < ntr; k++) {
        sm_rng_seed_stream(&rng, 1, (uint64_t)k);
        double x = 0, y = 0, th = 0, s = sqrt(2 * D * dt), sr = sqrt(2 * Dr * dt);
        for (int f = 0; f < nf; f++) {
            x += s * sm_rng_normal(&rng);
            y += s * sm_rng_normal(&rng);
            th += sr * sm_rng_normal(&rng);
            if (f > 0 && sm_rng_uniform(&rng) < 0.05) continue;
            sm_tracks_row r = sm_tracks_row_empty();
            r.frame = f;
            r.particle = k;
            r.x = x + sigma * sm_rng_normal(&rng);
            r.y = y + sigma * sm_rng_normal(&rng);
            double a = fmod(th + M_PI / 2, M_PI);
            if (a <= 0) a += M_PI;
            r.angle = a - M_PI / 2;
            if (sm_tracks_append(t, &r, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
        }
    }
    double t_gen = sm_now() - t0;
    sm_stats_options o;
    sm_stats_options_default(&o);
    o.px_nm = 1;
    o.dt_s = dt;
    o.blur_R = 0; /* instantaneous positions in this simulation */
    sm_stats *s = NULL;
    double c0 = cpu_seconds();
    t0 = sm_now();
    if (sm_stats_compute(&s, t, &o, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t_stats = sm_now() - t0, c_stats = cpu_seconds() - c0;
    double load[1] = {0};
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf", &load[0]) != 1) load[0] = 0;
        fclose(lf);
    }
    int threads = omp_get_max_threads();
    if (argc > 4 && strcmp(argv[4], "stats-only") == 0) {
        printf("stats %.2f s wall, %.2f s CPU (%d threads, load %.1f)\n", t_stats, c_stats, threads, load[0]);
        sm_stats_destroy(s);
        sm_tracks_destroy(t);
        return 0;
    }
    char dir[] = "/tmp/bench_stats_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[4200];
    t0 = sm_now();
    snprintf(path, sizeof path, "%s/stats.json", dir);
    int rc = sm_stats_write_json(s, path, &err);
    snprintf(path, sizeof path, "%s/msd.csv", dir);
    if (rc == 0) rc = sm_stats_write_msd_csv(s, path, &err);
    double t_files = sm_now() - t0;
    t0 = sm_now();
    if (rc == 0) rc = sm_plot_all(t, s, dir, SM_PLOT_PNG | SM_PLOT_SVG, &err);
    if (rc == 0) rc = sm_plot_report_html(s, dir, "bench", &err);
    double t_plots = sm_now() - t0;
    if (rc < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t rss = sm_peak_rss_bytes();
    printf("%d tracks x %d frames: generate %.2f s, stats %.2f s wall %.2f s CPU (%d threads), json+csv %.2f s, figures+report %.2f s; "
           "D = %.1f (true %.0f), D_cve = %.1f, sigma = %.2f (true %.0f), D_r = %.3f (true %.1f); peak RSS %.0f MiB\n",
           ntr, nf, t_gen, t_stats, c_stats, threads, t_files, t_plots, s->ens.D, D, s->ens.D_cve, s->ens.sigma, sigma, s->ens.D_r, Dr,
           rss / 1048576.0);
    FILE *fp = fopen(md, "w");
    if (fp) {
        fprintf(fp, "## bench_stats: motion statistics\n\n");
        fprintf(fp, "`build/bench_stats bench/results/bench_stats.md` (%d threads). %d Brownian tracks x %d frames (5%% of frames "
                    "missing, with angles): %lld rows.\n\n", threads, ntr, nf, (long long)t->n);
        fprintf(fp, "| step | seconds |\n|---|---|\n");
        fprintf(fp, "| sm_stats_compute (TA-MSD all lags via FFT, fits, CVE, rotation, van Hove, VACF, EB) | %.2f wall, %.2f CPU |\n", t_stats, c_stats);
        fprintf(fp, "| stats.json + msd.csv | %.2f |\n", t_files);
        fprintf(fp, "| figures (5 x PNG + SVG) + report.html | %.2f |\n", t_plots);
        fprintf(fp, "| (generating the tracks) | %.2f |\n\n", t_gen);
        fprintf(fp, "Load average when measured: %.1f (the machine is shared; CPU time is the steadier figure: on an idle 2-core "
                    "machine the wall time lies between CPU time / 2 and CPU time).\n\n", load[0]);
        fprintf(fp, "Target: statistics under 10 s on 2 cores. Recovered D = %.1f nm^2/s (true %.0f), D_cve = %.1f, sigma = %.2f nm "
                    "(true %.0f), D_r = %.3f rad^2/s (true %.1f). Peak RSS %.0f MiB.\n",
                s->ens.D, D, s->ens.D_cve, s->ens.sigma, sigma, s->ens.D_r, Dr, rss / 1048576.0);
        fclose(fp);
    }
    sm_stats_destroy(s);
    sm_tracks_destroy(t);
    char cmd[4300];
    const char *keep = getenv("BENCH_STATS_KEEP"); /* set to keep the figures and report for looking at */
    if (keep && *keep) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && mv %s '%s'", keep, dir, keep);
        if (system(cmd) == 0) printf("kept %s\n", keep);
    } else {
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return 0;
}
