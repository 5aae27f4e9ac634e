/* bench_formats: how fast each microscope-format reader delivers frames, and how much memory it holds.
 * For each format a 1024x1024 uint16 stack of 50 frames (pseudo-random noise on a gradient, like an LPTEM
 * frame) is written to a scratch folder: MRC, DM4 and SER byte by byte from their layouts, Berkeley and
 * Velox EMD with libhdf5 (one chunk per frame), MP4 (H.264) and AVI (MPEG-4 part 2) with the ffmpeg command
 * from the same frames as 8-bit. Each file is then read in a fresh child process (fork), so that its peak
 * resident memory is its own: all frames in order, then 20 frames in a fixed random order.
 * Files are read right after being written, so they sit in the page cache: the figures are the readers'
 * parsing and conversion cost, not disk speed.
 * Usage: bench_formats OUT.md */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

#include "samem/common.h"
#include "samem/io.h"

enum { W = 1024, H = 1024, N = 50, NRAND = 20 };

static uint16_t *frames;   /* (N, H, W) */

static void put(FILE *fp, uint64_t v, int size, int little) {
    uint8_t t[8];
    for (int k = 0; k < size; k++) t[little ? k : size - 1 - k] = (uint8_t)(v >> (8 * k));
    fwrite(t, 1, (size_t)size, fp);
}

static void put_f64(FILE *fp, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    put(fp, u, 8, 1);
}

static void write_mrc(const char *path) {
    FILE *fp = fopen(path, "wb");
    uint8_t h[1024] = {0};
    int32_t ints[4] = {W, H, N, 6};
    memcpy(h, ints, 16);
    int32_t m[3] = {W, H, N};
    memcpy(h + 28, m, 12);
    float cella[3] = {W * 1.5f, H * 1.5f, N * 1.5f};
    memcpy(h + 40, cella, 12);
    memcpy(h + 208, "MAP ", 4);
    h[212] = h[213] = 0x44;
    fwrite(h, 1, sizeof h, fp);
    fwrite(frames, 2, (size_t)W * H * N, fp);
    fclose(fp);
}

/* DM4: root { ImageList { 0 { ImageData { Data, DataType, Dimensions { W, H, N } } } } }. Every entry
 * carries its size (8 bytes after the name), patched once its content is written. */
static long dm_entry(FILE *fp, int kind, const char *name) {
    put(fp, (uint64_t)kind, 1, 0);
    put(fp, strlen(name), 2, 0);
    fwrite(name, 1, strlen(name), fp);
    long at = ftell(fp);
    put(fp, 0, 8, 0);
    return at;
}

static void dm_end(FILE *fp, long at) {
    long end = ftell(fp);
    fseek(fp, at, SEEK_SET);
    put(fp, (uint64_t)(end - at - 8), 8, 0);
    fseek(fp, end, SEEK_SET);
}

static void dm_group(FILE *fp, uint64_t n) {
    put(fp, 0, 1, 0);
    put(fp, 1, 1, 0);
    put(fp, n, 8, 0);
}

static void dm_long(FILE *fp, const char *name, uint32_t v) {
    long at = dm_entry(fp, 21, name);
    fwrite("%%%%", 1, 4, fp);
    put(fp, 1, 8, 0);
    put(fp, 3, 8, 0);
    put(fp, v, 4, 1);
    dm_end(fp, at);
}

static void write_dm4(const char *path) {
    FILE *fp = fopen(path, "wb");
    put(fp, 4, 4, 0);
    put(fp, 0, 8, 0);
    put(fp, 1, 4, 0);
    dm_group(fp, 1);
    long list = dm_entry(fp, 20, "ImageList");
    dm_group(fp, 1);
    long img = dm_entry(fp, 20, "");
    dm_group(fp, 1);
    long idata = dm_entry(fp, 20, "ImageData");
    dm_group(fp, 3);
    long data = dm_entry(fp, 21, "Data");
    fwrite("%%%%", 1, 4, fp);
    put(fp, 3, 8, 0);
    put(fp, 20, 8, 0);
    put(fp, 4, 8, 0);
    put(fp, (uint64_t)W * H * N, 8, 0);
    fwrite(frames, 2, (size_t)W * H * N, fp);
    dm_end(fp, data);
    dm_long(fp, "DataType", 10);
    long dims = dm_entry(fp, 20, "Dimensions");
    dm_group(fp, 3);
    dm_long(fp, "", W);
    dm_long(fp, "", H);
    dm_long(fp, "", N);
    dm_end(fp, dims);
    dm_end(fp, idata);
    dm_end(fp, img);
    dm_end(fp, list);
    put(fp, 0, 8, 0);
    put(fp, 0, 8, 0);
    fclose(fp);
}

static void write_ser(const char *path) {
    FILE *fp = fopen(path, "wb");
    put(fp, 0x4949, 2, 1);
    put(fp, 0x0197, 2, 1);
    put(fp, 0x0210, 2, 1);
    put(fp, 0x4122, 4, 1);
    put(fp, 0x4152, 4, 1);
    put(fp, N, 4, 1);
    put(fp, N, 4, 1);
    uint64_t elem = 30 + 28 + 4;   /* header, one dimension without description or units */
    uint64_t esize = 50 + (uint64_t)W * H * 2;
    put(fp, elem + esize * N, 4, 1);
    put(fp, 1, 4, 1);
    put(fp, N, 4, 1);
    put_f64(fp, 0);
    put_f64(fp, 1);
    put(fp, 0, 4, 1);
    put(fp, 0, 4, 1);
    put(fp, 0, 4, 1);
    for (int z = 0; z < N; z++) {
        put_f64(fp, 0);
        put_f64(fp, 1.5e-10);
        put(fp, 0, 4, 1);
        put_f64(fp, 0);
        put_f64(fp, 1.5e-10);
        put(fp, 0, 4, 1);
        put(fp, 2, 2, 1);
        put(fp, W, 4, 1);
        put(fp, H, 4, 1);
        fwrite(frames + (size_t)z * W * H, 2, (size_t)W * H, fp);
    }
    for (int z = 0; z < N; z++) put(fp, elem + esize * (uint64_t)z, 4, 1);
    for (int z = 0; z < N; z++) put(fp, 0, 4, 1);
    fclose(fp);
}

static void write_emd(const char *path, int velox) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g1 = H5Gcreate2(f, velox ? "Data" : "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g2 = H5Gcreate2(g1, velox ? "Image" : "stack", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = velox ? H5Gcreate2(g2, "abc123", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : g2;
    if (!velox) {
        hid_t s = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(g, "emd_group_type", H5T_NATIVE_INT, s, H5P_DEFAULT, H5P_DEFAULT);
        int one = 1;
        H5Awrite(a, H5T_NATIVE_INT, &one);
        H5Aclose(a);
        H5Sclose(s);
    }
    hsize_t d[3] = {N, H, W}, c[3] = {1, H, W};
    if (velox) d[0] = H, d[1] = W, d[2] = N, c[0] = H, c[1] = W, c[2] = 1;
    hid_t s = H5Screate_simple(3, d, NULL), p = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(p, 3, c);
    hid_t ds = H5Dcreate2(g, velox ? "Data" : "data", H5T_STD_U16LE, s, H5P_DEFAULT, p, H5P_DEFAULT);
    if (velox) {
        /* (H, W, N): transpose the frames into place, one frame hyperslab at a time. */
        hsize_t start[3] = {0, 0, 0}, count[3] = {H, W, 1};
        hid_t ms = H5Screate_simple(3, count, NULL);
        for (int z = 0; z < N; z++) {
            start[2] = (hsize_t)z;
            H5Sselect_hyperslab(s, H5S_SELECT_SET, start, NULL, count, NULL);
            H5Dwrite(ds, H5T_NATIVE_UINT16, ms, s, H5P_DEFAULT, frames + (size_t)z * W * H);
        }
        H5Sclose(ms);
    } else {
        H5Dwrite(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, frames);
    }
    H5Dclose(ds);
    H5Pclose(p);
    H5Sclose(s);
    if (velox) H5Gclose(g);
    H5Gclose(g2);
    H5Gclose(g1);
    H5Fclose(f);
}

typedef struct result {
    double seq_fps, rand_fps, open_ms;
    double rss_mb;
    int ok;
    char format[32];
} result;

/* In a child process: open, read all frames in order, then NRAND frames in a fixed random order. */
static result measure(const char *path) {
    int fds[2];
    result r = {0};
    if (pipe(fds) != 0) return r;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        result c = {0};
        sm_error err = {0};
        sm_video *v;
        double t0 = sm_now();
        if (sm_video_open(&v, path, &err) == 0) {
            c.open_ms = (sm_now() - t0) * 1e3;
            const sm_video_info *in = sm_video_get_info(v);
            snprintf(c.format, sizeof c.format, "%s", in->format);
            float *plane = malloc(sizeof(float) * (size_t)in->width * (size_t)in->height);
            int ok = 1;
            t0 = sm_now();
            for (int64_t i = 0; i < in->frames && ok; i++) ok = sm_video_read_frame(v, i, plane, &err) == 0;
            c.seq_fps = (double)in->frames / (sm_now() - t0);
            t0 = sm_now();
            for (int k = 0; k < NRAND && ok; k++)
                ok = sm_video_read_frame(v, (k * 37 + 11) % in->frames, plane, &err) == 0;
            c.rand_fps = NRAND / (sm_now() - t0);
            c.ok = ok;
            free(plane);
            sm_video_close(v);
        }
        if (!c.ok) fprintf(stderr, "bench_formats: %s\n", err.msg);
        c.rss_mb = (double)sm_peak_rss_bytes() / (1 << 20);
        if (write(fds[1], &c, sizeof c) != (ssize_t)sizeof c) _exit(1);
        _exit(0);
    }
    close(fds[1]);
    if (read(fds[0], &r, sizeof r) != (ssize_t)sizeof r) r.ok = 0;
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return r;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: bench_formats OUT.md\n");
        return 1;
    }
    char dir[] = "/tmp/samem-bench-formats-XXXXXX";
    if (!mkdtemp(dir)) return 2;
    frames = malloc(sizeof(uint16_t) * (size_t)W * H * N);
    sm_rng rng;
    sm_rng_seed(&rng, 9);
    for (int z = 0; z < N; z++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double v = 20000 + 10 * x + 5 * y + 3000 * sm_rng_normal(&rng);
                frames[((size_t)z * H + y) * W + x] = (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v);
            }
    char path[7][512], raw[512], cmd[2048];
    const char *names[7] = {"MRC (mode 6)", "DM4", "SER", "EMD Berkeley", "EMD Velox", "MP4 H.264 (8-bit)",
                            "AVI MPEG-4 part 2 (8-bit)"};
    const char *files[7] = {"a.mrc", "a.dm4", "a.ser", "a.emd", "v.emd", "a.mp4", "a.avi"};
    for (int k = 0; k < 7; k++) snprintf(path[k], sizeof path[k], "%s/%s", dir, files[k]);
    write_mrc(path[0]);
    write_dm4(path[1]);
    write_ser(path[2]);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    write_emd(path[3], 0);
    write_emd(path[4], 1);
    snprintf(raw, sizeof raw, "%s/a.gray", dir);
    FILE *fp = fopen(raw, "wb");
    for (size_t i = 0; i < (size_t)W * H * N; i++) fputc(frames[i] >> 8, fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "ffmpeg -hide_banner -loglevel error -y -f rawvideo -pix_fmt gray -s %dx%d -r 25 "
             "-i %s -c:v libx264 -preset veryfast -crf 23 -g 25 -pix_fmt yuv420p %s", W, H, raw, path[5]);
    int have_mp4 = system(cmd) == 0;
    snprintf(cmd, sizeof cmd, "ffmpeg -hide_banner -loglevel error -y -f rawvideo -pix_fmt gray -s %dx%d -r 25 "
             "-i %s -c:v mpeg4 -q:v 4 -g 25 %s", W, H, raw, path[6]);
    int have_avi = system(cmd) == 0;

    free(frames);   /* before the children fork, so that their resident memory is the reader's alone */
    frames = NULL;
    FILE *out = fopen(argv[1], "w");
    if (!out) return 2;
    fprintf(out, "## Microscope file formats (bench_formats)\n\n");
    fprintf(out, "Reading a %dx%d stack of %d frames (uint16; video 8-bit) with `sm_video_read_frame`, file in the "
                 "page cache, one thread. Random: %d frames in a fixed shuffled order. Peak RSS of a child process "
                 "that opens and reads the file (includes the library and its decoders). "
                 "Command: `build/bench_formats bench/results/bench_formats.md`.\n\n", W, H, N, NRAND);
    double load = 0;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load) != 1) load = 0;
        fclose(la);
    }
    fprintf(out, "Load average when measured: %.1f on %ld cores (other work shares the machine: the rates are "
                 "lower bounds).\n\n", load, sysconf(_SC_NPROCESSORS_ONLN));
    fprintf(out, "| format | reader | open (ms) | frames/s in order | frames/s random | MB/s in order | peak RSS (MiB) |\n");
    fprintf(out, "|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < 7; k++) {
        if ((k == 5 && !have_mp4) || (k == 6 && !have_avi)) continue;
        result r = measure(path[k]);
        struct stat st;
        stat(path[k], &st);
        if (!r.ok) {
            fprintf(out, "| %s | failed | | | | | |\n", names[k]);
            continue;
        }
        fprintf(out, "| %s | %s | %.2f | %.0f | %.0f | %.0f | %.1f |\n", names[k], r.format, r.open_ms, r.seq_fps,
                r.rand_fps, r.seq_fps * (double)st.st_size / N / 1e6, r.rss_mb);
        fprintf(stderr, "%-28s %8.0f frames/s %8.0f random  %.1f MiB\n", names[k], r.seq_fps, r.rand_fps, r.rss_mb);
    }
    fclose(out);
    for (int k = 0; k < 7; k++) remove(path[k]);
    remove(raw);
    rmdir(dir);
    return 0;
}
