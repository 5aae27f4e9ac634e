/* bench_io: the TIFF path at the size of a long LPTEM recording. Writes a 2,000-frame 1024x1024 uint16
 * stack (4.2 GB, BigTIFF) with sm_tiff_writer, opens it (header only), reads it frame by frame as float32
 * with sm_video_read_frame, then reads 200 frames in random order, checking every pixel; reports write
 * MB/s, open time, frames/s and the process's peak resident memory. Targets (issue 3): >= 500 frames/s,
 * peak RSS < 100 MB. The file goes to $SAMEM_BENCH_DIR (default /tmp) and is deleted afterwards.
 * Reads come from the page cache when the machine has the memory for it (the usual case right after
 * acquisition or conversion); cold-disk reads are bounded by the disk instead.
 * Usage: bench_io OUT.md [frames]  */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "samem/io.h"

/* CPU seconds used by this process: the read rate per CPU second does not depend on other load. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint16_t value(int64_t k, size_t i) { return (uint16_t)((i * 2654435761u >> 7) + (uint64_t)k * 977u); }

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_io OUT.md [frames]\n");
        return 1;
    }
    int64_t frames = argc > 2 ? atoll(argv[2]) : 2000;
    enum { W = 1024, H = 1024 };
    const char *dir = getenv("SAMEM_BENCH_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/samem_bench_io_%ld.tif", dir && *dir ? dir : "/tmp", (long)getpid());
    sm_error err = {0};
    uint16_t *frame = malloc(sizeof(uint16_t) * W * H);
    float *f = malloc(sizeof(float) * W * H);
    if (!frame || !f) return 3;

    double t0 = sm_now();
    sm_tiff_writer *w;
    int rc = sm_tiff_writer_open(&w, path, W, H, SM_SAMPLE_U16, frames, 0.5, 0.01, &err);
    for (int64_t k = 0; k < frames && rc == 0; k++) {
        for (size_t i = 0; i < (size_t)W * H; i++) frame[i] = value(k, i);
        rc = sm_tiff_writer_write(w, frame, &err);
    }
    if (rc == 0) rc = sm_tiff_writer_commit(w, &err);
    else sm_tiff_writer_abort(w);
    double t_write = sm_now() - t0;
    if (rc) {
        fprintf(stderr, "bench_io: %s\n", err.msg);
        return 3;
    }
    double gb = (double)frames * W * H * 2 / 1e9;

    t0 = sm_now();
    sm_video *v;
    rc = sm_video_open(&v, path, &err);
    double t_open = sm_now() - t0;
    if (rc) {
        fprintf(stderr, "bench_io: %s\n", err.msg);
        unlink(path);
        return 3;
    }
    int64_t bad = 0;
    double c0 = cpu_now();
    t0 = sm_now();
    for (int64_t k = 0; k < frames && rc == 0; k++) {
        rc = sm_video_read_frame(v, k, f, &err);
        /* check a sparse sample of pixels so that the check does not dominate the timing */
        for (size_t i = (size_t)k % 97; i < (size_t)W * H; i += 4099) bad += f[i] != (float)value(k, i);
    }
    double t_seq = sm_now() - t0, c_seq = cpu_now() - c0;
    sm_rng r;
    sm_rng_seed(&r, 1);
    int n_rand = 200;
    t0 = sm_now();
    for (int j = 0; j < n_rand && rc == 0; j++) {
        int64_t k = (int64_t)sm_rng_below(&r, (uint64_t)frames);
        rc = sm_video_read_frame(v, k, f, &err);
        for (size_t i = 0; i < (size_t)W * H; i += 1021) bad += f[i] != (float)value(k, i);
    }
    double t_rand = sm_now() - t0;
    sm_video_close(v);
    unlink(path);
    free(frame);
    free(f);
    if (rc) {
        fprintf(stderr, "bench_io: %s\n", err.msg);
        return 3;
    }
    double rss_mb = (double)sm_peak_rss_bytes() / 1e6;
    double fps = (double)frames / t_seq;
    double load[1] = {0};
    getloadavg(load, 1);
    printf("write %.2f GB in %.1f s; open %.2f ms; sequential %.0f frames/s (%.0f per CPU second); random %.0f "
           "frames/s; peak RSS %.1f MB; %lld bad pixels; load average %.1f\n",
           gb, t_write, t_open * 1e3, fps, frames / c_seq, n_rand / t_rand, rss_mb, (long long)bad, load[0]);
    FILE *md = fopen(argv[1], "w");
    if (!md) {
        perror(argv[1]);
        return 3;
    }
    fprintf(md, "## io: TIFF stack write and frame-by-frame read (bench/bench_io.c)\n\n");
    fprintf(md, "%lld frames of %dx%d px uint16 (%.2f GB, BigTIFF with ImageJ metadata), written with "
                "`sm_tiff_writer` and read back as float32 with `sm_video_read_frame`, one thread, reads from the "
                "page cache. Command: `make bench` (or `build/bench_io bench/results/bench_io.md`).\n\n",
            (long long)frames, W, H, gb);
    fprintf(md, "| measure | value | target |\n|---|---|---|\n");
    fprintf(md, "| write | %.1f s (%.0f MB/s) | |\n", t_write, gb * 1e3 / t_write);
    fprintf(md, "| open (header only) | %.2f ms | no frame read |\n", t_open * 1e3);
    fprintf(md, "| sequential read | %.0f frames/s (%.0f MB/s of samples) | >= 500 frames/s |\n", fps,
            fps * W * H * 2 / 1e6);
    fprintf(md, "| sequential read per CPU second | %.0f frames (%.2f ms CPU per frame) | |\n", frames / c_seq,
            c_seq / frames * 1e3);
    fprintf(md, "| random-order read (200 frames) | %.0f frames/s | |\n", n_rand / t_rand);
    fprintf(md, "| peak resident memory (whole run) | %.1f MB | < 100 MB |\n", rss_mb);
    fprintf(md, "| pixels checked wrong | %lld | 0 |\n", (long long)bad);
    fprintf(md, "\nLoad average (1 min) at the end of the run: %.1f on %ld cores.\n", load[0], sysconf(_SC_NPROCESSORS_ONLN));
    fclose(md);
    return bad ? 1 : 0;
}
