/* samem convert VIDEO OUT.tif: any video samem reads to a TIFF stack, optionally a range of frames and a
 * crop, keeping the sample type (8-bit and 16-bit unsigned stay so; float, signed and 32-bit integer
 * samples become float32, which holds every value read_frame returns) and the pixel size and frame
 * interval (as ImageJ metadata). Frame by frame: memory holds two frames whatever the video's length.
 * The output appears only when complete (temporary file, then rename).
 * Left out: compression, resampling, bit-depth changes on request. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "samem/io.h"

/* "A:B", "A:", ":B" (0-based, B exclusive, like a Python slice) into [*a, *b); 0 if well-formed. */
static int parse_range(const char *s, int64_t frames, int64_t *a, int64_t *b) {
    const char *colon = strchr(s, ':');
    if (!colon) return -1;
    char *end;
    *a = 0;
    *b = frames;
    if (colon != s) {
        long long v = strtoll(s, &end, 10);
        if (end != colon || v < 0) return -1;
        *a = v;
    }
    if (colon[1]) {
        long long v = strtoll(colon + 1, &end, 10);
        if (*end || v < 0) return -1;
        *b = v;
    }
    return 0;
}

static int parse_crop(const char *s, long long c[4]) {
    const char *p = s;
    for (int k = 0; k < 4; k++) {
        char *end;
        c[k] = strtoll(p, &end, 10);
        if (end == p || (k < 3 && *end != ',') || (k == 3 && *end)) return -1;
        p = end + 1;
    }
    return 0;
}

static int run_convert(const sm_args *a) {
    const char *in_path = a->positional[0], *out_path = a->positional[1];
    sm_error err = {0};
    sm_video *v;
    if (sm_video_open(&v, in_path, &err) < 0) return sm_cli_fail(&err);
    const sm_video_info *in = sm_video_get_info(v);
    int64_t first = 0, last = in->frames;
    const char *range = sm_args_get(a, "frames");
    if (range && (parse_range(range, in->frames, &first, &last) < 0 || first >= last || last > in->frames)) {
        long long frames = (long long)in->frames;
        sm_video_close(v);
        return sm_cli_usage_error("convert", "--frames '%s' is not a range A:B with 0 <= A < B <= %lld", range, frames);
    }
    long long crop[4] = {0, 0, in->width, in->height};
    const char *crop_arg = sm_args_get(a, "crop");
    if (crop_arg && (parse_crop(crop_arg, crop) < 0 || crop[0] < 0 || crop[1] < 0 || crop[2] <= 0 || crop[3] <= 0 ||
                     crop[0] + crop[2] > in->width || crop[1] + crop[3] > in->height)) {
        int w = in->width, h = in->height;
        sm_video_close(v);
        return sm_cli_usage_error("convert", "--crop '%s' is not X,Y,W,H inside the %dx%d px frame", crop_arg, w, h);
    }
    sm_sample_type type = SM_SAMPLE_F32;
    if (!in->is_float && !in->is_signed && in->bit_depth == 8) type = SM_SAMPLE_U8;
    if (!in->is_float && !in->is_signed && in->bit_depth == 16) type = SM_SAMPLE_U16;
    int cw = (int)crop[2], ch = (int)crop[3];
    size_t frame_floats, crop_bytes;
    int rc = sm_size_mul(&frame_floats, (size_t)in->width, (size_t)in->height, sizeof(float), in_path, &err);
    if (rc == 0) rc = sm_size_mul(&crop_bytes, (size_t)cw, (size_t)ch, sizeof(float), out_path, &err);
    if (rc < 0) {
        sm_video_close(v);
        return sm_cli_fail(&err);
    }
    float *frame = malloc(frame_floats);
    void *outbuf = malloc(crop_bytes);
    sm_tiff_writer *w = NULL;
    if (!frame || !outbuf) rc = sm_error_set(&err, SM_ENOMEM, "%s: out of memory", in_path);
    if (rc == 0)
        rc = sm_tiff_writer_open(&w, out_path, cw, ch, type, last - first, in->pixel_size_nm, in->frame_interval_s, &err);
    sm_progress prog;
    sm_progress_start(&prog, "convert", last - first, a->quiet);
    for (int64_t i = first; rc == 0 && i < last; i++) {
        rc = sm_video_read_frame(v, i, frame, &err);
        if (rc < 0) break;
        for (int y = 0; y < ch; y++) {
            const float *src = frame + (size_t)(y + crop[1]) * (size_t)in->width + (size_t)crop[0];
            size_t o = (size_t)y * (size_t)cw;
            if (type == SM_SAMPLE_F32) {
                memcpy((float *)outbuf + o, src, (size_t)cw * sizeof(float));
            } else {
                float hi = type == SM_SAMPLE_U8 ? 255.0f : 65535.0f;
                for (int x = 0; x < cw; x++) {
                    float s = src[x] < 0 ? 0 : src[x] > hi ? hi : src[x];
                    if (type == SM_SAMPLE_U8) ((uint8_t *)outbuf)[o + (size_t)x] = (uint8_t)lrintf(s);
                    else ((uint16_t *)outbuf)[o + (size_t)x] = (uint16_t)lrintf(s);
                }
            }
        }
        rc = sm_tiff_writer_write(w, outbuf, &err);
        sm_progress_update(&prog, i - first + 1);
    }
    sm_progress_finish(&prog);
    if (rc == 0) {
        rc = sm_tiff_writer_commit(w, &err);
        w = NULL;
    }
    sm_tiff_writer_abort(w);
    free(frame);
    free(outbuf);
    sm_video_close(v);
    if (rc < 0) return sm_cli_fail(&err);
    if (!a->quiet)
        printf("wrote %s: %lld frames of %dx%d px, %s\n", out_path, (long long)(last - first), cw, ch,
               type == SM_SAMPLE_U8 ? "uint8" : type == SM_SAMPLE_U16 ? "uint16" : "float32");
    return 0;
}

const sm_command sm_cmd_convert = {
    .name = "convert",
    .summary = "write a video (or a range of frames, or a crop of it) as a TIFF stack",
    .usage = "samem convert VIDEO OUT.tif [--frames A:B] [--crop X,Y,W,H]",
    .description =
        "Reads VIDEO frame by frame and writes OUT.tif, a multi-page TIFF (BigTIFF above 4 GiB) with ImageJ\n"
        "metadata: 8- and 16-bit unsigned samples stay so, anything else becomes float32; the pixel size and\n"
        "frame interval are kept. --frames A:B keeps frames A to B-1 (0-based; A: and :B also work);\n"
        "--crop X,Y,W,H keeps the W x H px region whose top-left pixel is (X, Y). The output appears only\n"
        "when complete.\n"
        "example: samem convert frames/ run.tif --frames 0:100 --crop 64,64,256,256",
    .min_positional = 2,
    .max_positional = 2,
    .options = (const sm_option_spec[]){{"frames", "A:B", "frames A to B-1 (0-based)"},
                                        {"crop", "X,Y,W,H", "region to keep, px"},
                                        {NULL, NULL, NULL}},
    .run = run_convert,
};
