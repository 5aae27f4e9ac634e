/* samem io: open microscope videos of any supported format as float32 frames, and write TIFF stacks and
 * PNG/JPEG frames.
 *
 * Usage:
 *     sm_error err = {0};
 *     sm_video *v;
 *     if (sm_video_open(&v, "run.tif", &err) < 0) { puts(err.msg); return; }
 *     const sm_video_info *info = sm_video_get_info(v);
 *     float *plane = malloc(sizeof(float) * info->width * info->height);
 *     for (int64_t i = 0; i < info->frames; i++)
 *         if (sm_video_read_frame(v, i, plane, &err) < 0) break;   // raw values: 0..255, 0..65535, float
 *     sm_video_close(v);
 *
 * Opening reads only the header (a 10,000-frame file reads no frame); each read_frame reads one frame.
 * The format is chosen by probing the first bytes, never by the file extension: every reader in
 * src/io/ exports one `const sm_io_format` (src/io/format.h) and the highest probe score wins.
 * A path that is a directory opens as a folder of PNG/JPEG frames in natural name order.
 * A sm_video is not thread-safe: use one per thread.
 */
#ifndef SAMEM_IO_H
#define SAMEM_IO_H

#include <stdint.h>
#include "samem/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sm_video sm_video;

typedef struct sm_video_info {
    char format[32];          /* "tiff", "png-folder", "jpeg-folder", "mrc", "dm4", ... */
    int width, height;        /* px */
    int64_t frames;
    int bit_depth;            /* bits per sample of the stored data: 8, 16, 32 */
    int is_float;             /* stored samples are floating point */
    double pixel_size_nm;     /* nm per px; 0 when the file does not say */
    double frame_interval_s;  /* s between frames; 0 when the file does not say */
    int is_signed;            /* stored integer samples are signed (int8/int16/int32) */
} sm_video_info;

/* Opens path; on failure *out is NULL and err says why ("x.tif: not a TIFF file"). */
int sm_video_open(sm_video **out, const char *path, sm_error *err);
const sm_video_info *sm_video_get_info(const sm_video *v);
/* Frame i (0-based) into out, width*height floats, row-major, raw stored values (no scaling). */
int sm_video_read_frame(sm_video *v, int64_t i, float *out, sm_error *err);
/* The path the video was opened from (valid while v is open). */
const char *sm_video_path(const sm_video *v);
void sm_video_close(sm_video *v);

/* ---------------------------------------------------------------- TIFF stack writer */

typedef enum sm_sample_type { SM_SAMPLE_U8 = 0, SM_SAMPLE_U16 = 1, SM_SAMPLE_F32 = 2 } sm_sample_type;

typedef struct sm_tiff_writer sm_tiff_writer;

/* Starts a multi-page TIFF (BigTIFF when frames*frame bytes may pass 4 GiB; pass frames_hint = 0 if
 * unknown, which also chooses BigTIFF) at a temporary path; ImageJ metadata records the pixel size (nm) and
 * frame interval (s) when non-zero, so that ImageJ/Fiji and tifffile read them. */
int sm_tiff_writer_open(sm_tiff_writer **out, const char *path, int width, int height, sm_sample_type type,
                        int64_t frames_hint, double pixel_size_nm, double frame_interval_s, sm_error *err);
/* One frame: data points to width*height samples of the writer's type (uint8_t, uint16_t or float). */
int sm_tiff_writer_write(sm_tiff_writer *w, const void *data, sm_error *err);
/* Finishes and renames into place. Frees w whatever happens. */
int sm_tiff_writer_commit(sm_tiff_writer *w, sm_error *err);
/* Removes the temporary file and frees w; NULL does nothing. */
void sm_tiff_writer_abort(sm_tiff_writer *w);

/* ---------------------------------------------------------------- single images */

/* 8- or 16-bit gray PNG (bits 8 or 16; data is uint8_t* or uint16_t*), written atomically. */
int sm_png_write_gray(const char *path, const void *data, int width, int height, int bits, sm_error *err);
/* 8-bit RGB PNG (data: width*height*3 bytes), written atomically. */
int sm_png_write_rgb(const char *path, const uint8_t *rgb, int width, int height, sm_error *err);
/* 8-bit gray JPEG at quality 1..100, written atomically. */
int sm_jpeg_write_gray(const char *path, const uint8_t *data, int width, int height, int quality, sm_error *err);
/* Compresses an 8-bit gray plane as JPEG at the given quality and decodes it back in place, in memory:
 * gives a frame the block artefacts of a JPEG export. */
int sm_jpeg_roundtrip_gray(uint8_t *data, int width, int height, int quality, sm_error *err);

#ifdef __cplusplus
}
#endif
#endif
