/* Writers: multi-page TIFF stacks (uint8, uint16 or float32, with ImageJ metadata), 8/16-bit gray PNG,
 * 8-bit RGB PNG and 8-bit gray JPEG, all written under a temporary name beside the destination and renamed
 * into place only when complete, plus an in-memory JPEG round trip that gives a frame JPEG block artefacts.
 *
 * Left out: compression in TIFF stacks (uncompressed pages read fastest and ImageJ opens them directly),
 * colour JPEG, PNG with alpha. Specs: TIFF 6.0 and BigTIFF (via libtiff); ImageJ's TIFF conventions
 * (ImageDescription "ImageJ=...\nimages=N\nframes=N\nunit=nm\nfinterval=s\n", XResolution/YResolution =
 * pixels per unit, ResolutionUnit none); PNG (ISO/IEC 15948, via libpng); JPEG (ITU T.81, via libjpeg).
 * libtiff, libpng and libjpeg never print here: their messages are captured into sm_error.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>

#include "samem/io.h"

/* ================================================================ TIFF stack writer */

struct sm_tiff_writer {
    TIFF *tif;
    char path[4096];          /* final path */
    char tmp[4096];           /* temporary path beside it */
    int width, height;        /* px */
    sm_sample_type type;
    int64_t frames_hint;      /* frames announced in the ImageJ description (0: unknown) */
    int64_t written;          /* frames written so far */
    double pixel_size_nm;     /* nm per px, 0 unknown */
    double frame_interval_s;  /* s, 0 unknown */
    size_t frame_bytes;       /* bytes of one frame */
    char tiff_msg[256];       /* last message libtiff reported */
};

static int writer_tiff_handler(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif;
    (void)module;
    sm_tiff_writer *w = user;
    if (w) vsnprintf(w->tiff_msg, sizeof w->tiff_msg, fmt, ap);
    return 1; /* handled: libtiff does not call its global (printing) handlers */
}

static int writer_tiff_quiet(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1;
}

static int sample_bytes(sm_sample_type t) { return t == SM_SAMPLE_U8 ? 1 : t == SM_SAMPLE_U16 ? 2 : 4; }

/* The ImageJ description; frames <= 0 leaves out the image count. */
static void imagej_description(char *buf, size_t size, int64_t frames, double pixel_size_nm, double interval_s) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "ImageJ=1.11a\n");
    if (frames > 0) {
        n += (size_t)snprintf(buf + n, size - n, "images=%lld\n", (long long)frames);
        if (frames > 1) n += (size_t)snprintf(buf + n, size - n, "frames=%lld\n", (long long)frames);
    }
    if (pixel_size_nm > 0) n += (size_t)snprintf(buf + n, size - n, "unit=nm\n");
    if (interval_s > 0) n += (size_t)snprintf(buf + n, size - n, "finterval=%.9g\n", interval_s);
    if (frames > 1) snprintf(buf + n, size - n, "loop=false\n");
}

int sm_tiff_writer_open(sm_tiff_writer **out, const char *path, int width, int height, sm_sample_type type,
                        int64_t frames_hint, double pixel_size_nm, double frame_interval_s, sm_error *err) {
    *out = NULL;
    if (width <= 0 || height <= 0 || (type != SM_SAMPLE_U8 && type != SM_SAMPLE_U16 && type != SM_SAMPLE_F32) ||
        frames_hint < 0)
        return sm_error_set(err, SM_EINVAL, "%s: bad TIFF stack shape %dx%d (type %d)", path, width, height, (int)type);
    size_t frame_bytes;
    int rc = sm_size_mul(&frame_bytes, (size_t)width, (size_t)height, (size_t)sample_bytes(type), path, err);
    if (rc < 0) return rc;
    sm_tiff_writer *w = calloc(1, sizeof *w);
    if (!w) return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    if (strlen(path) >= sizeof w->path) {
        free(w);
        return sm_error_set(err, SM_EINVAL, "%s: path too long", path);
    }
    strcpy(w->path, path);
    rc = sm_atomic_temp_path(w->tmp, sizeof w->tmp, path, err);
    if (rc < 0) {
        free(w);
        return rc;
    }
    w->width = width;
    w->height = height;
    w->type = type;
    w->frames_hint = frames_hint;
    w->pixel_size_nm = pixel_size_nm > 0 ? pixel_size_nm : 0;
    w->frame_interval_s = frame_interval_s > 0 ? frame_interval_s : 0;
    w->frame_bytes = frame_bytes;
    /* Classic TIFF addresses 4 GiB; leave a margin for directories. */
    unsigned __int128 total = (unsigned __int128)frame_bytes * (uint64_t)(frames_hint > 0 ? frames_hint : 0);
    int big = frames_hint == 0 || total > ((unsigned __int128)4 << 30) - ((unsigned __int128)64 << 20);
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) {
        free(w);
        return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    TIFFOpenOptionsSetErrorHandlerExtR(opts, writer_tiff_handler, w);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, writer_tiff_quiet, NULL);
    w->tif = TIFFOpenExt(w->tmp, big ? "w8" : "w", opts);
    TIFFOpenOptionsFree(opts);
    if (!w->tif) {
        int e = errno;
        unlink(w->tmp);
        rc = sm_error_set(err, SM_EIO, "%s: cannot write: %s", path, w->tiff_msg[0] ? w->tiff_msg : strerror(e));
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int sm_tiff_writer_write(sm_tiff_writer *w, const void *data, sm_error *err) {
    TIFF *tif = w->tif;
    uint16_t bits = (uint16_t)(8 * sample_bytes(w->type));
    uint16_t fmt = w->type == SM_SAMPLE_F32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT;
    size_t row_bytes = (size_t)w->width * (size_t)sample_bytes(w->type);
    /* Strips of at most 64 MiB; a 1024x1024 frame is one strip. */
    size_t rows = ((size_t)64 << 20) / row_bytes;
    if (rows < 1) rows = 1;
    if (rows > (size_t)w->height) rows = (size_t)w->height;
    int ok = TIFFSetField(tif, TIFFTAG_SUBFILETYPE, 0) && TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)w->width) &&
             TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)w->height) &&
             TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, bits) && TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1) &&
             TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, fmt) &&
             TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK) &&
             TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
             TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_NONE) &&
             TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, (uint32_t)rows);
    if (ok && w->pixel_size_nm > 0) {
        double ppu = 1.0 / w->pixel_size_nm; /* px per nm */
        ok = TIFFSetField(tif, TIFFTAG_XRESOLUTION, ppu) && TIFFSetField(tif, TIFFTAG_YRESOLUTION, ppu) &&
             TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
    }
    if (ok && w->written == 0) {
        char desc[512];
        imagej_description(desc, sizeof desc, w->frames_hint, w->pixel_size_nm, w->frame_interval_s);
        ok = TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, desc) && TIFFSetField(tif, TIFFTAG_SOFTWARE, "samem");
    }
    if (!ok) return sm_error_set(err, SM_EIO, "%s: cannot set TIFF tags: %s", w->path, w->tiff_msg);
    const uint8_t *p = data;
    uint32_t strip = 0;
    for (size_t y = 0; y < (size_t)w->height; y += rows, strip++) {
        size_t n = rows;
        if (y + n > (size_t)w->height) n = (size_t)w->height - y;
        /* libtiff only modifies the buffer when it must byte-swap or apply a predictor; we write native
         * byte order without predictor, so the caller's data stays untouched. */
        if (TIFFWriteEncodedStrip(tif, strip, (void *)(p + y * row_bytes), (tmsize_t)(n * row_bytes)) < 0)
            return sm_error_set(err, SM_EIO, "%s: frame %lld: write failed: %s", w->path, (long long)w->written,
                                w->tiff_msg[0] ? w->tiff_msg : strerror(errno));
    }
    if (!TIFFWriteDirectory(tif))
        return sm_error_set(err, SM_EIO, "%s: frame %lld: write failed: %s", w->path, (long long)w->written,
                            w->tiff_msg[0] ? w->tiff_msg : strerror(errno));
    w->written++;
    return 0;
}

/* The first page's description still announces frames_hint images: rewrite it with the true count. */
static int fix_description(sm_tiff_writer *w, sm_error *err) {
    char desc[512];
    imagej_description(desc, sizeof desc, w->written, w->pixel_size_nm, w->frame_interval_s);
    if (!TIFFSetDirectory(w->tif, 0) || !TIFFSetField(w->tif, TIFFTAG_IMAGEDESCRIPTION, desc) ||
        !TIFFRewriteDirectory(w->tif))
        return sm_error_set(err, SM_EIO, "%s: cannot update the ImageJ description: %s", w->path, w->tiff_msg);
    return 0;
}

int sm_tiff_writer_commit(sm_tiff_writer *w, sm_error *err) {
    if (!w) return sm_error_set(err, SM_EINTERNAL, "TIFF writer: NULL");
    int rc = 0;
    if (w->written == 0) rc = sm_error_set(err, SM_EINVAL, "%s: no frames written", w->path);
    if (rc == 0 && w->written != w->frames_hint) rc = fix_description(w, err);
    if (rc == 0) {
        TIFFFlush(w->tif);
        if (w->tiff_msg[0]) rc = sm_error_set(err, SM_EIO, "%s: write failed: %s", w->path, w->tiff_msg);
    }
    TIFFClose(w->tif);
    w->tif = NULL;
    if (rc == 0 && w->tiff_msg[0]) rc = sm_error_set(err, SM_EIO, "%s: write failed: %s", w->path, w->tiff_msg);
    if (rc == 0) {
        /* libtiff closes with close(2) only; fsync the data before the rename makes it visible. */
        FILE *fp = fopen(w->tmp, "rb+");
        if (!fp || fsync(fileno(fp)) != 0) rc = sm_error_set(err, SM_EIO, "%s: write failed: %s", w->path, strerror(errno));
        if (fp) fclose(fp);
    }
    if (rc == 0) rc = sm_atomic_rename(w->tmp, w->path, err);
    else unlink(w->tmp);
    free(w);
    return rc;
}

void sm_tiff_writer_abort(sm_tiff_writer *w) {
    if (!w) return;
    if (w->tif) TIFFClose(w->tif);
    unlink(w->tmp);
    free(w);
}

/* ================================================================ PNG */

typedef struct png_ctx {
    jmp_buf jmp;
    char msg[200];
} png_ctx;

static void png_error_fn(png_structp png, png_const_charp msg) {
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jmp, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

/* channels: 1 (gray) or 3 (RGB); bits 8 or 16 (16 only for gray). */
static int png_write(const char *path, const void *data, int width, int height, int channels, int bits,
                     sm_error *err) {
    if (width <= 0 || height <= 0 || (bits != 8 && bits != 16))
        return sm_error_set(err, SM_EINVAL, "%s: bad PNG shape %dx%d, %d bits", path, width, height, bits);
    size_t row_bytes;
    int rc = sm_size_mul(&row_bytes, (size_t)width, (size_t)channels, (size_t)bits / 8, path, err);
    if (rc < 0) return rc;
    sm_atomic_file f;
    rc = sm_atomic_open(&f, path, err);
    if (rc < 0) return rc;
    png_ctx ctx;
    ctx.msg[0] = 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        sm_atomic_abort(&f);
        return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    if (setjmp(ctx.jmp)) {
        png_destroy_write_struct(&png, &info);
        sm_atomic_abort(&f);
        return sm_error_set(err, SM_EIO, "%s: PNG write failed: %s", path, ctx.msg);
    }
    png_init_io(png, f.fp);
    png_set_compression_level(png, 3);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bits,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (bits == 16) png_set_swap(png); /* PNG stores big-endian; our uint16 are native (little-endian) */
    const uint8_t *p = data;
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(p + (size_t)y * row_bytes));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return sm_atomic_commit(&f, err);
}

int sm_png_write_gray(const char *path, const void *data, int width, int height, int bits, sm_error *err) {
    return png_write(path, data, width, height, 1, bits, err);
}

int sm_png_write_rgb(const char *path, const uint8_t *rgb, int width, int height, sm_error *err) {
    return png_write(path, rgb, width, height, 3, 8, err);
}

/* ================================================================ JPEG */

typedef struct jpeg_ctx {
    struct jpeg_error_mgr mgr; /* first, so that the library's pointer is ours */
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
} jpeg_ctx;

static void jpeg_error_exit_fn(j_common_ptr cinfo) {
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    c->mgr.format_message(cinfo, c->msg);
    longjmp(c->jmp, 1);
}

static void jpeg_output_message_fn(j_common_ptr cinfo) { (void)cinfo; }

static void jpeg_ctx_init(jpeg_ctx *c) {
    jpeg_std_error(&c->mgr);
    c->mgr.error_exit = jpeg_error_exit_fn;
    c->mgr.output_message = jpeg_output_message_fn;
    c->msg[0] = 0;
}

/* Compresses a gray plane into either fp or a memory buffer (*mem, *mem_size, freed by the caller). */
static int jpeg_compress_gray(const char *what, FILE *fp, unsigned char **mem, unsigned long *mem_size,
                              const uint8_t *data, int width, int height, int quality, sm_error *err) {
    struct jpeg_compress_struct cinfo;
    jpeg_ctx ctx;
    jpeg_ctx_init(&ctx);
    cinfo.err = &ctx.mgr;
    if (setjmp(ctx.jmp)) {
        jpeg_destroy_compress(&cinfo);
        return sm_error_set(err, SM_EIO, "%s: JPEG compression failed: %s", what, ctx.msg);
    }
    jpeg_create_compress(&cinfo);
    if (fp) jpeg_stdio_dest(&cinfo, fp);
    else jpeg_mem_dest(&cinfo, mem, mem_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 1;
    cinfo.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(data + (size_t)cinfo.next_scanline * (size_t)width);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return 0;
}

static int check_jpeg_args(const char *what, int width, int height, int quality, sm_error *err) {
    if (width <= 0 || height <= 0 || width > 65500 || height > 65500)
        return sm_error_set(err, SM_EINVAL, "%s: bad JPEG size %dx%d (1..65500 px)", what, width, height);
    if (quality < 1 || quality > 100)
        return sm_error_set(err, SM_EINVAL, "%s: JPEG quality %d is not in 1..100", what, quality);
    return 0;
}

int sm_jpeg_write_gray(const char *path, const uint8_t *data, int width, int height, int quality, sm_error *err) {
    int rc = check_jpeg_args(path, width, height, quality, err);
    if (rc < 0) return rc;
    sm_atomic_file f;
    rc = sm_atomic_open(&f, path, err);
    if (rc < 0) return rc;
    rc = jpeg_compress_gray(path, f.fp, NULL, NULL, data, width, height, quality, err);
    if (rc < 0) {
        sm_atomic_abort(&f);
        return rc;
    }
    return sm_atomic_commit(&f, err);
}

int sm_jpeg_roundtrip_gray(uint8_t *data, int width, int height, int quality, sm_error *err) {
    int rc = check_jpeg_args("JPEG round trip", width, height, quality, err);
    if (rc < 0) return rc;
    unsigned char *mem = NULL;
    unsigned long mem_size = 0;
    rc = jpeg_compress_gray("JPEG round trip", NULL, &mem, &mem_size, data, width, height, quality, err);
    if (rc < 0) {
        free(mem);
        return rc;
    }
    struct jpeg_decompress_struct dinfo;
    jpeg_ctx ctx;
    jpeg_ctx_init(&ctx);
    dinfo.err = &ctx.mgr;
    if (setjmp(ctx.jmp)) {
        jpeg_destroy_decompress(&dinfo);
        free(mem);
        return sm_error_set(err, SM_EINTERNAL, "JPEG round trip: decoding failed: %s", ctx.msg);
    }
    jpeg_create_decompress(&dinfo);
    jpeg_mem_src(&dinfo, mem, mem_size);
    jpeg_read_header(&dinfo, TRUE);
    dinfo.out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(&dinfo);
    if ((int)dinfo.output_width != width || (int)dinfo.output_height != height || dinfo.output_components != 1)
        longjmp(ctx.jmp, 1);
    while (dinfo.output_scanline < dinfo.output_height) {
        JSAMPROW row = data + (size_t)dinfo.output_scanline * (size_t)width;
        jpeg_read_scanlines(&dinfo, &row, 1);
    }
    jpeg_finish_decompress(&dinfo);
    jpeg_destroy_decompress(&dinfo);
    free(mem);
    return 0;
}
