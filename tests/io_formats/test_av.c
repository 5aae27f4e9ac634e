/* FFmpeg reader against videos written by FFmpeg's own encoders (the ffmpeg command): lossless H.264 in MP4
 * with B-frames and a keyframe every 8 frames (exact Y plane), FFV1 gray in AVI (exact), MPEG-4 part 2 in AVI
 * (lossy: each frame must match its own source frame best), and PNG-coded RGB in MKV (goes through swscale).
 * Frames are read in order, in random order and backwards, which exercises seeking and the forward-decode
 * cache. Then truncated and garbage files. */
#include "fmt_test.h"

enum { W = 64, H = 48, N = 30 };

static int luma(int x, int y, int z) { return 16 + (x * 3 + y * 2 + z * 37) % 200; }

/* Mean absolute difference between a decoded plane and source frame z. */
static double mad(const float *p, int z) {
    double s = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) s += fabs(p[y * W + x] - luma(x, y, z));
    return s / (W * H);
}

/* Reads frames in the given order and checks each: exact (tol 0) or within tol and closer to its own source
 * frame than to its neighbours. Returns the number of bad frames. */
static int read_order(sm_video *v, const int *order, int n, double tol, sm_error *err) {
    float *plane = malloc(sizeof(float) * W * H);
    int bad = 0;
    for (int k = 0; k < n; k++) {
        int z = order[k];
        if (sm_video_read_frame(v, z, plane, err) < 0) {
            bad = 1000;
            break;
        }
        double e = mad(plane, z);
        int ok = e <= tol;
        if (z > 0 && mad(plane, z - 1) <= e) ok = 0;
        if (z + 1 < N && mad(plane, z + 1) <= e) ok = 0;
        if (!ok) {
            bad++;
            printf("  frame %d: mean abs error %.3f\n", z, e);
        }
    }
    free(plane);
    return bad;
}

static void check_video(const char *label, const char *path, double fps, double tol) {
    char name[200];
    sm_error err = {0};
    sm_video *v;
    int rc = sm_video_open(&v, path, &err);
    snprintf(name, sizeof name, "%s opens", label);
    SM_CHECKF(name, rc == 0, "%s", err.msg);
    if (rc) return;
    const sm_video_info *in = sm_video_get_info(v);
    snprintf(name, sizeof name, "%s: %dx%d, %d frames, 8 bits, interval 1/%g s within 1e-9", label, W, H, N, fps);
    SM_CHECKF(name, in->width == W && in->height == H && in->frames == N && in->bit_depth == 8 && !in->is_float &&
              fabs(in->frame_interval_s * fps - 1) < 1e-9, "%s %dx%d %lld frames %d bits %g s", in->format, in->width,
              in->height, (long long)in->frames, in->bit_depth, in->frame_interval_s);
    int seq[N], rnd[N], back[N];
    for (int i = 0; i < N; i++) seq[i] = i, back[i] = N - 1 - i, rnd[i] = (i * 17 + 5) % N;
    int bad = read_order(v, seq, N, tol, &err);
    snprintf(name, sizeof name, "%s: frames in order, mean abs error <= %g", label, tol);
    SM_CHECKF(name, bad == 0, "%d bad %s", bad, err.msg);
    bad = read_order(v, rnd, N, tol, &err);
    snprintf(name, sizeof name, "%s: frames in random order (seeking) match", label);
    SM_CHECKF(name, bad == 0, "%d bad %s", bad, err.msg);
    bad = read_order(v, back, N, tol, &err);
    snprintf(name, sizeof name, "%s: frames backwards match", label);
    SM_CHECKF(name, bad == 0, "%d bad %s", bad, err.msg);
    sm_video_close(v);
}

int main(void) {
    char dir[2048], raw[2200], rawy[2200], path[2200], cmd[8192];
    sm_test_tmp_path(dir, sizeof dir, "av");
    mkdir(dir, 0777);
    /* Source frames: planar YUV 4:2:0 with neutral chroma, and the same luma as gray. */
    snprintf(raw, sizeof raw, "%s/src.yuv", dir);
    snprintf(rawy, sizeof rawy, "%s/src.gray", dir);
    FILE *fy = fopen(raw, "wb"), *fg = fopen(rawy, "wb");
    uint8_t chroma[W * H / 2];
    memset(chroma, 128, sizeof chroma);
    for (int z = 0; z < N; z++) {
        uint8_t y8[W * H];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) y8[y * W + x] = (uint8_t)luma(x, y, z);
        fwrite(y8, 1, sizeof y8, fy);
        fwrite(chroma, 1, sizeof chroma, fy);
        fwrite(y8, 1, sizeof y8, fg);
    }
    fclose(fy);
    fclose(fg);
    const char *ff = "ffmpeg -hide_banner -loglevel error -y";
    struct { const char *label, *file, *in, *rate, *codec; double fps, tol; } cases[] = {
        {"MP4 lossless H.264 with B-frames", "x264.mp4", "yuv420p", "10",
         "-c:v libx264 -qp 0 -g 8 -bf 2 -pix_fmt yuv420p", 10, 0},
        {"AVI FFV1 gray", "ffv1.avi", "gray", "25", "-c:v ffv1 -pix_fmt gray", 25, 0},
        {"AVI MPEG-4 part 2 (lossy)", "mpeg4.avi", "yuv420p", "25", "-c:v mpeg4 -q:v 2 -g 6 -bf 1", 25, 4},
        {"MKV PNG-coded RGB (swscale path)", "png.mkv", "gray", "30000/1001", "-c:v png -pix_fmt rgb24", 30000.0 / 1001,
         1},
    };
    int ok_files = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, cases[k].file);
        snprintf(cmd, sizeof cmd, "%s -f rawvideo -pix_fmt %s -s %dx%d -r %s -i '%s' %s '%s'", ff, cases[k].in, W, H,
                 cases[k].rate, strcmp(cases[k].in, "gray") ? raw : rawy, cases[k].codec, path);
        int st = sm_test_system(cmd);
        char name[200];
        snprintf(name, sizeof name, "ffmpeg wrote %s", cases[k].file);
        SM_CHECKF(name, st == 0, "exit %d", st);
        if (st == 0) {
            check_video(cases[k].label, path, cases[k].fps, cases[k].tol);
            check_convert(cases[k].label, path);
            ok_files++;
        }
    }

    /* Bad input: an MP4 cut in half (moov first, so the header survives and the frames do not), an MP4 cut
     * before its moov, and garbage with a video extension. */
    char src[2200];
    snprintf(src, sizeof src, "%s/fast.mp4", dir);
    snprintf(cmd, sizeof cmd, "%s -f rawvideo -pix_fmt yuv420p -s %dx%d -r 10 -i '%s' -c:v libx264 -qp 0 -g 8 "
             "-movflags +faststart '%s'", ff, W, H, raw, src);
    if (sm_test_system(cmd) == 0) {
        snprintf(path, sizeof path, "%s/half.mp4", dir);
        truncated_copy(src, path, file_size(src) / 2);
        check_bad_file("MP4 cut in half", path);
    }
    snprintf(src, sizeof src, "%s/x264.mp4", dir);
    snprintf(path, sizeof path, "%s/nomoov.mp4", dir);
    truncated_copy(src, path, file_size(src) / 2);
    check_bad_file("MP4 cut before its moov", path);
    snprintf(path, sizeof path, "%s/garbage.avi", dir);
    {
        uint8_t junk[5000];
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 131 + 7);
        memcpy(junk, "RIFF\x10\x00\x00\x00" "AVI LIST", 16);
        write_bytes(path, junk, sizeof junk);
    }
    check_bad_file("AVI header followed by garbage", path);
    return sm_test_report();
}
