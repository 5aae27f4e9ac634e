/* Image sequences: a folder of PNG or JPEG frames, one file per frame, in natural order of the file names
 * (frame_2 before frame_10), as microscope software and ffmpeg export them; also a single PNG or JPEG file
 * as a one-frame video. Each file is decoded by its magic number, whatever its extension.
 *
 * PNG: 1/2/4/8/16-bit gray, palette, RGB, with or without alpha (alpha is dropped, palette and low bit
 * depths are expanded to 8 bits); JPEG: baseline and progressive 8-bit gray or YCbCr/RGB. Colour becomes
 * gray by luminance, Y = 0.299 R + 0.587 G + 0.114 B (Rec. 601; for YCbCr JPEG that is the stored Y).
 * Opening lists the folder and reads the first file's header only; each read decodes one file. A frame of
 * another size than the first is an error naming that file; so is a corrupt or truncated file (libjpeg's
 * "premature end of data" warnings count as errors here, they would otherwise pass as gray padding).
 *
 * Left out: 12-bit JPEG, CMYK JPEG, PNG gamma/colour-profile correction (values are the stored ones),
 * APNG animation, files in subfolders; names starting with '.' are skipped (temporary files).
 * Specs: PNG (ISO/IEC 15948) via libpng; JPEG (ITU T.81) and JFIF via libjpeg.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

#include "io/codec_errors.h"
#include "io/format.h"

enum { KIND_PNG = 1, KIND_JPEG = 2 };

typedef struct seq_priv {
    char **paths;          /* (n) full paths, natural order */
    int64_t n;
    int width, height;     /* px, from the first file */
    uint8_t *buf;          /* decoded samples of one frame */
    size_t buf_size;
    png_bytep *rows;       /* (height) row pointers into buf */
} seq_priv;

/* ---------------------------------------------------------------- names */

static int has_image_extension(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot || name[0] == '.') return 0;
    return strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
           strcasecmp(dot, ".jpe") == 0;
}

static int magic_kind(const uint8_t *h, size_t n) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && memcmp(h, png_sig, 8) == 0) return KIND_PNG;
    if (n >= 3 && h[0] == 0xFF && h[1] == 0xD8 && h[2] == 0xFF) return KIND_JPEG;
    return 0;
}

static int folder_has_images(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) found = has_image_extension(e->d_name);
    closedir(d);
    return found;
}

static int probe(const uint8_t *head, size_t n, const char *path, int is_dir) {
    if (is_dir) return folder_has_images(path) ? 50 : 0;
    return magic_kind(head, n) ? SM_PROBE_MAX : 0;
}

static int compare_paths(const void *a, const void *b) {
    return sm_natural_compare(*(const char *const *)a, *(const char *const *)b);
}

static void close_seq(void *priv) {
    seq_priv *p = priv;
    if (!p) return;
    for (int64_t k = 0; k < p->n; k++) free(p->paths[k]);
    free(p->paths);
    free(p->buf);
    free(p->rows);
    free(p);
}

/* Collects the folder's image files in natural order. */
static int list_folder(seq_priv *p, const char *dir, sm_error *err) {
    DIR *d = opendir(dir);
    if (!d) return sm_error_set(err, SM_EIO, "%s: cannot open folder: %s", dir, strerror(errno));
    int64_t cap = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!has_image_extension(e->d_name)) continue;
        char full[4096];
        if (sm_path_join(full, sizeof full, dir, e->d_name, err) < 0) {
            rc = err ? err->code : SM_EINVAL;
            break;
        }
        struct stat st;
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (p->n == cap) {
            cap = cap ? 2 * cap : 64;
            char **np = realloc(p->paths, (size_t)cap * sizeof *np);
            if (!np) {
                rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory", dir);
                break;
            }
            p->paths = np;
        }
        if (!(p->paths[p->n] = strdup(full))) {
            rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory", dir);
            break;
        }
        p->n++;
    }
    closedir(d);
    if (rc < 0) return rc;
    if (p->n == 0) return sm_error_set(err, SM_EFORMAT, "%s: folder holds no PNG or JPEG frames", dir);
    qsort(p->paths, (size_t)p->n, sizeof *p->paths, compare_paths);
    return 0;
}

/* ---------------------------------------------------------------- PNG */


/* Decodes file fp (path for messages). header_only: fills *w, *h, *bits and stops.
 * Otherwise checks the size against p and writes gray floats to out. */
static int png_decode(seq_priv *p, FILE *fp, const char *path, int header_only, int *w, int *h, int *bits, float *out,
                      sm_error *err) {
    sm_png_errors ctx;
    ctx.msg[0] = 0;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, sm_png_error_fn, sm_png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    volatile int rc = 0; /* set before a longjmp */
    if (setjmp(ctx.jmp)) {
        png_destroy_read_struct(&png, &info, NULL);
        if (rc < 0) return rc;
        return sm_error_set(err, SM_EFORMAT, "%s: corrupt PNG: %s", path, ctx.msg);
    }
    png_init_io(png, fp);
    png_read_info(png, info);
    png_uint_32 pw = png_get_image_width(png, info), ph = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), ctype = png_get_color_type(png, info);
    if (pw > (1u << 24) || ph > (1u << 24)) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: absurd PNG size %ux%u px", path, (unsigned)pw, (unsigned)ph);
        longjmp(ctx.jmp, 1);
    }
    *w = (int)pw;
    *h = (int)ph;
    *bits = depth == 16 ? 16 : 8;
    if (header_only) {
        png_destroy_read_struct(&png, &info, NULL);
        return 0;
    }
    if (*w != p->width || *h != p->height) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: frame is %dx%d px, the first frame is %dx%d px", path, *w, *h, p->width,
                          p->height);
        longjmp(ctx.jmp, 1);
    }
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (ctype & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (depth == 16) png_set_swap(png); /* to native little-endian uint16 */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info), outbits = png_get_bit_depth(png, info);
    size_t row_bytes = png_get_rowbytes(png, info), need;
    if (channels != 1 && channels != 3) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: unsupported PNG layout (%d channels)", path, channels);
        longjmp(ctx.jmp, 1);
    }
    int mul = sm_size_mul(&need, row_bytes, (size_t)ph, 1, path, err);
    if (mul < 0) {
        rc = mul;
        longjmp(ctx.jmp, 1);
    }
    if (need > p->buf_size) {
        uint8_t *b = realloc(p->buf, need);
        if (!b) {
            rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
            longjmp(ctx.jmp, 1);
        }
        p->buf = b;
        p->buf_size = need;
    }
    for (png_uint_32 y = 0; y < ph; y++) p->rows[y] = p->buf + (size_t)y * row_bytes;
    png_read_image(png, p->rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    size_t n = (size_t)pw * ph;
    if (outbits == 16) {
        const uint16_t *s = (const uint16_t *)(const void *)p->buf; /* row_bytes is even, rows stay aligned */
        if (channels == 1)
            for (size_t k = 0; k < n; k++) out[k] = s[k];
        else
            for (size_t k = 0; k < n; k++)
                out[k] = (float)(0.299 * s[3 * k] + 0.587 * s[3 * k + 1] + 0.114 * s[3 * k + 2]);
    } else {
        const uint8_t *s = p->buf;
        if (channels == 1)
            for (size_t k = 0; k < n; k++) out[k] = s[k];
        else
            for (size_t k = 0; k < n; k++)
                out[k] = (float)(0.299 * s[3 * k] + 0.587 * s[3 * k + 1] + 0.114 * s[3 * k + 2]);
    }
    return 0;
}

/* ---------------------------------------------------------------- JPEG */


static int jpeg_decode(seq_priv *p, FILE *fp, const char *path, int header_only, int *w, int *h, int *bits,
                       float *out, sm_error *err) {
    struct jpeg_decompress_struct d;
    sm_jpeg_errors ctx;
    sm_jpeg_errors_init(&ctx);
    d.err = &ctx.mgr;
    volatile int rc = 0; /* set before a longjmp */
    if (setjmp(ctx.jmp)) {
        jpeg_destroy_decompress(&d);
        if (rc < 0) return rc;
        return sm_error_set(err, SM_EFORMAT, "%s: corrupt JPEG: %s", path, ctx.msg);
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, fp);
    jpeg_read_header(&d, TRUE);
    *w = (int)d.image_width;
    *h = (int)d.image_height;
    *bits = 8;
    if (header_only) {
        jpeg_destroy_decompress(&d);
        return 0;
    }
    if (*w != p->width || *h != p->height) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: frame is %dx%d px, the first frame is %dx%d px", path, *w, *h, p->width,
                          p->height);
        longjmp(ctx.jmp, 1);
    }
    d.out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(&d);
    if (d.output_components != 1 || (int)d.output_width != p->width) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: unsupported JPEG colour layout", path);
        longjmp(ctx.jmp, 1);
    }
    /* p->buf holds at least one frame of 8-bit samples (allocated at open) */
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = p->buf + (size_t)d.output_scanline * (size_t)p->width;
        if (jpeg_read_scanlines(&d, &row, 1) != 1) break;
    }
    jpeg_finish_decompress(&d);
    if (ctx.mgr.num_warnings > 0) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: corrupt or truncated JPEG: %s", path, ctx.msg);
        longjmp(ctx.jmp, 1);
    }
    jpeg_destroy_decompress(&d);
    size_t n = (size_t)p->width * (size_t)p->height;
    for (size_t k = 0; k < n; k++) out[k] = p->buf[k];
    return 0;
}

/* ---------------------------------------------------------------- open and read */

static int decode_file(seq_priv *p, const char *path, int header_only, int *w, int *h, int *bits, int *kind,
                       float *out, sm_error *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return sm_error_set(err, SM_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t head[8];
    size_t n = fread(head, 1, sizeof head, fp);
    *kind = magic_kind(head, n);
    int rc;
    if (!*kind) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: %s", path, n == 0 ? "empty file" : "neither PNG nor JPEG");
    } else {
        rewind(fp);
        rc = *kind == KIND_PNG ? png_decode(p, fp, path, header_only, w, h, bits, out, err)
                               : jpeg_decode(p, fp, path, header_only, w, h, bits, out, err);
    }
    fclose(fp);
    return rc;
}

static int open_seq(const char *path, sm_video_info *info, void **out, sm_error *err) {
    *out = NULL;
    seq_priv *p = calloc(1, sizeof *p);
    if (!p) return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    struct stat st = {0};
    int rc;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = list_folder(p, path, err);
    } else {
        p->paths = malloc(sizeof *p->paths);
        rc = p->paths && (p->paths[0] = strdup(path)) ? 0 : sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
        if (rc == 0) p->n = 1;
    }
    int w = 0, h = 0, bits = 8, kind = 0;
    if (rc == 0) rc = decode_file(p, p->paths[0], 1, &w, &h, &bits, &kind, NULL, err);
    size_t floats;
    if (rc == 0 && (w <= 0 || h <= 0)) rc = sm_error_set(err, SM_EFORMAT, "%s: empty image (%dx%d px)", p->paths[0], w, h);
    if (rc == 0) rc = sm_size_mul(&floats, (size_t)w, (size_t)h, sizeof(float), p->paths[0], err);
    if (rc == 0) {
        p->width = w;
        p->height = h;
        p->buf_size = (size_t)w * (size_t)h; /* 8-bit gray; PNG grows it as needed */
        p->buf = malloc(p->buf_size);
        p->rows = malloc((size_t)h * sizeof *p->rows);
        if (!p->buf || !p->rows) rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    if (rc < 0) {
        close_seq(p);
        return rc;
    }
    info->width = w;
    info->height = h;
    info->frames = p->n;
    info->bit_depth = bits;
    snprintf(info->format, sizeof info->format, "%s-%s", kind == KIND_PNG ? "png" : "jpeg",
             S_ISDIR(st.st_mode) ? "folder" : "file");
    *out = p;
    return 0;
}

static int read_frame_seq(void *priv, const sm_video_info *info, int64_t i, float *out, sm_error *err) {
    (void)info;
    seq_priv *p = priv;
    int w, h, bits, kind;
    return decode_file(p, p->paths[i], 0, &w, &h, &bits, &kind, out, err);
}

const sm_io_format sm_io_format_imgseq = {
    .name = "imgseq",
    .probe = probe,
    .open = open_seq,
    .read_frame = read_frame_seq,
    .close = close_seq,
};
