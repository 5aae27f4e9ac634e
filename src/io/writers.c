/* Writers: multi-page TIFF stacks (uint8, uint16 or float32, with ImageJ metadata), 8/16-bit gray PNG,
 * 8-bit RGB PNG and 8-bit gray JPEG, all written under a temporary name beside the destination and renamed
 * into place only when complete, plus an in-memory JPEG round trip that gives a frame JPEG block artefacts.
 *
 * Left out: compression in TIFF stacks (uncompressed pages read fastest and ImageJ opens them directly),
 * colour JPEG, PNG with alpha. Specs: TIFF 6.0 and BigTIFF (libtiff.org/bigtiffdesign), encoded here (see
 * the writer's comment for why not with libtiff); ImageJ's TIFF conventions (ImageDescription
 * "ImageJ=...\nimages=N\nframes=N\nunit=nm\nfinterval=s\n", XResolution/YResolution = pixels per unit,
 * ResolutionUnit none); PNG (ISO/IEC 15948, via libpng); JPEG (ITU T.81, via libjpeg).
 * libpng and libjpeg never print here: their messages are captured into sm_error.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "io/codec_errors.h"
#include "samem/io.h"

/* ================================================================ TIFF stack writer */

/* Our own TIFF writer (little-endian, uncompressed, one sample per pixel) rather than libtiff's, because
 * of the layout: libtiff interleaves each page's pixels with its IFD, while ImageJ and tifffile expect an
 * ImageJ stack's pixels to lie contiguously (tifffile reads a stack whose second IFD lies past the end of
 * the first page's data plus images*frame bytes as one contiguous block). So, as ImageJ does, frames are
 * streamed one after the other right after the header, and at commit the description, the shared
 * resolution values and every IFD are appended, and the header is patched to point at the first IFD.
 * File: header | frame 0 | frame 1 | ... | description, software, resolution | per frame: [strip arrays] IFD. */

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the TIFF writer writes native little-endian samples"
#endif

struct sm_tiff_writer {
    sm_atomic_file file;
    int width, height;        /* px */
    sm_sample_type type;
    int big;                  /* BigTIFF: 8-byte offsets */
    int64_t written;          /* frames written so far */
    double pixel_size_nm;     /* nm per px, 0 unknown */
    double frame_interval_s;  /* s, 0 unknown */
    size_t frame_bytes;       /* bytes of one frame */
    uint32_t rows_per_strip;  /* rows; strips of at most 64 MiB */
    uint32_t strips;          /* strips per frame */
};

static int sample_bytes(sm_sample_type t) { return t == SM_SAMPLE_U8 ? 1 : t == SM_SAMPLE_U16 ? 2 : 4; }

/* The ImageJ description for `frames` frames. */
static void imagej_description(char *buf, size_t size, int64_t frames, double pixel_size_nm, double interval_s) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "ImageJ=1.11a\nimages=%lld\n", (long long)frames);
    if (frames > 1) n += (size_t)snprintf(buf + n, size - n, "frames=%lld\n", (long long)frames);
    if (pixel_size_nm > 0) n += (size_t)snprintf(buf + n, size - n, "unit=nm\n");
    if (interval_s > 0) n += (size_t)snprintf(buf + n, size - n, "finterval=%.9g\n", interval_s);
    if (frames > 1) snprintf(buf + n, size - n, "loop=false\n");
}

/* Largest classic TIFF we write: 4 GiB less room for the IFDs. */
static uint64_t classic_limit(void) { return ((uint64_t)4 << 30) - ((uint64_t)16 << 20); }

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
    w->width = width;
    w->height = height;
    w->type = type;
    w->pixel_size_nm = pixel_size_nm > 0 && isfinite(pixel_size_nm) ? pixel_size_nm : 0;
    w->frame_interval_s = frame_interval_s > 0 && isfinite(frame_interval_s) ? frame_interval_s : 0;
    w->frame_bytes = frame_bytes;
    size_t row_bytes = (size_t)width * (size_t)sample_bytes(type);
    size_t rows = ((size_t)64 << 20) / row_bytes;
    w->rows_per_strip = (uint32_t)(rows < 1 ? 1 : rows > (size_t)height ? (size_t)height : rows);
    w->strips = (uint32_t)((height + w->rows_per_strip - 1) / w->rows_per_strip);
    unsigned __int128 total = (unsigned __int128)frame_bytes * (uint64_t)frames_hint;
    w->big = frames_hint == 0 || total > classic_limit();
    rc = sm_atomic_open(&w->file, path, err);
    if (rc < 0) {
        free(w);
        return rc;
    }
    setvbuf(w->file.fp, NULL, _IOFBF, 1 << 20);
    /* header; the first IFD's offset is patched at commit */
    static const uint8_t classic[8] = {'I', 'I', 42, 0, 0, 0, 0, 0};
    static const uint8_t big[16] = {'I', 'I', 43, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    if (fwrite(w->big ? big : classic, 1, w->big ? 16 : 8, w->file.fp) != (w->big ? 16u : 8u)) {
        rc = sm_error_set(err, SM_EIO, "%s: cannot write: %s", path, strerror(errno));
        sm_atomic_abort(&w->file);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int sm_tiff_writer_write(sm_tiff_writer *w, const void *data, sm_error *err) {
    uint64_t end = (uint64_t)(w->big ? 16 : 8) + (uint64_t)(w->written + 1) * w->frame_bytes;
    if (!w->big && end > classic_limit())
        return sm_error_set(err, SM_EINVAL, "%s: frame %lld passes the 4 GiB of a classic TIFF (announce the frame count)",
                            w->file.path, (long long)w->written);
    if (fwrite(data, 1, w->frame_bytes, w->file.fp) != w->frame_bytes)
        return sm_error_set(err, SM_EIO, "%s: frame %lld: write failed: %s", w->file.path, (long long)w->written,
                            strerror(errno));
    w->written++;
    return 0;
}

/* ---- the IFD encoder */

enum { T_ASCII = 2, T_SHORT = 3, T_LONG = 4, T_RATIONAL = 5, T_LONG8 = 16 };

typedef struct ifd_entry {
    uint16_t tag, type;
    uint64_t count;
    uint64_t value; /* inline value, or offset of out-of-line data */
} ifd_entry;

static void put_le(uint8_t *b, uint64_t v, int bytes) {
    for (int k = 0; k < bytes; k++) b[k] = (uint8_t)(v >> (8 * k));
}

static int write_le(FILE *fp, uint64_t v, int bytes) {
    uint8_t b[8];
    put_le(b, v, bytes);
    return fwrite(b, 1, (size_t)bytes, fp) == (size_t)bytes ? 0 : -1;
}

/* Writes one IFD with n entries (sorted by tag) and the next-IFD offset. */
static int write_ifd(FILE *fp, int big, const ifd_entry *e, int n, uint64_t next) {
    int ob = big ? 8 : 4;
    if (write_le(fp, (uint64_t)n, big ? 8 : 2) < 0) return -1;
    for (int k = 0; k < n; k++) {
        uint8_t b[20] = {0};
        put_le(b, e[k].tag, 2);
        put_le(b + 2, e[k].type, 2);
        put_le(b + 4, e[k].count, ob);
        int tsize = e[k].type == T_SHORT ? 2 : (e[k].type == T_LONG ? 4 : (e[k].type == T_ASCII ? 1 : 8));
        if (e[k].count * (uint64_t)tsize <= (uint64_t)ob && e[k].type != T_RATIONAL && e[k].type != T_ASCII)
            put_le(b + 4 + ob, e[k].value, tsize); /* inline, left-justified */
        else
            put_le(b + 4 + ob, e[k].value, ob);
        if (fwrite(b, 1, (size_t)(4 + 2 * ob), fp) != (size_t)(4 + 2 * ob)) return -1;
    }
    return write_le(fp, next, ob);
}

/* pixels per nm as a TIFF rational num/den */
static void to_rational(double v, uint32_t *num, uint32_t *den) {
    double d = 1e9;
    while (d > 1 && v * d >= 4294967295.0) d /= 10;
    double nmr = floor(v * d + 0.5);
    if (nmr < 1) nmr = 1;
    if (nmr > 4294967295.0) nmr = 4294967295.0;
    *num = (uint32_t)nmr;
    *den = (uint32_t)d;
}

int sm_tiff_writer_commit(sm_tiff_writer *w, sm_error *err) {
    if (!w) return sm_error_set(err, SM_EINTERNAL, "TIFF writer: NULL");
    FILE *fp = w->file.fp;
    int big = w->big, ob = big ? 8 : 4, rc = 0;
    if (w->written == 0) {
        rc = sm_error_set(err, SM_EINVAL, "%s: no frames written", w->file.path);
        goto fail;
    }
    char desc[512];
    imagej_description(desc, sizeof desc, w->written, w->pixel_size_nm, w->frame_interval_s);
    static const char software[] = "samem";
    uint64_t header = big ? 16 : 8;
    uint64_t pos = header + (uint64_t)w->written * w->frame_bytes;
    int failed = 0;
    if (pos & 1) failed |= fputc(0, fp) == EOF, pos++; /* IFDs and values on word boundaries */
    /* shared out-of-line values: description, software, resolution */
    uint64_t desc_off = pos, desc_len = strlen(desc) + 1;
    failed |= fwrite(desc, 1, desc_len, fp) != desc_len;
    pos += desc_len;
    uint64_t soft_off = pos;
    failed |= fwrite(software, 1, sizeof software, fp) != sizeof software;
    pos += sizeof software;
    if (pos & 1) failed |= fputc(0, fp) == EOF, pos++;
    uint64_t res_off = pos, res_value = 0;
    int has_res = w->pixel_size_nm > 0;
    if (has_res) {
        uint32_t num, den;
        to_rational(1.0 / w->pixel_size_nm, &num, &den);
        failed |= write_le(fp, num, 4) < 0 || write_le(fp, den, 4) < 0;
        pos += 8;
        /* in BigTIFF an 8-byte rational fits inline */
        res_value = big ? ((uint64_t)den << 32 | num) : res_off;
    }
    /* per frame: [strip offsets][strip byte counts] (only when more than one strip) then the IFD */
    int array_type = big ? T_LONG8 : T_LONG;
    uint64_t arrays = w->strips > 1 ? 2 * (uint64_t)w->strips * (uint64_t)ob : 0;
    size_t row_bytes = (size_t)w->width * (size_t)sample_bytes(w->type);
    uint64_t strip_bytes = (uint64_t)row_bytes * w->rows_per_strip;
    uint64_t last_strip = w->frame_bytes - strip_bytes * (w->strips - 1);
    ifd_entry e[20];
    uint64_t first_ifd = 0;
    for (int64_t i = 0; i < w->written && !failed; i++) {
        uint64_t data = header + (uint64_t)i * w->frame_bytes;
        uint64_t arrays_off = pos;
        if (w->strips > 1) {
            for (uint32_t s = 0; s < w->strips; s++) failed |= write_le(fp, data + s * strip_bytes, ob) < 0;
            for (uint32_t s = 0; s < w->strips; s++)
                failed |= write_le(fp, s + 1 < w->strips ? strip_bytes : last_strip, ob) < 0;
            pos += arrays;
        }
        int n = 0;
        e[n++] = (ifd_entry){254, T_LONG, 1, 0};
        e[n++] = (ifd_entry){256, T_LONG, 1, (uint64_t)w->width};
        e[n++] = (ifd_entry){257, T_LONG, 1, (uint64_t)w->height};
        e[n++] = (ifd_entry){258, T_SHORT, 1, (uint64_t)(8 * sample_bytes(w->type))};
        e[n++] = (ifd_entry){259, T_SHORT, 1, 1};  /* no compression */
        e[n++] = (ifd_entry){262, T_SHORT, 1, 1};  /* min-is-black */
        if (i == 0) e[n++] = (ifd_entry){270, T_ASCII, desc_len, desc_off};
        e[n++] = (ifd_entry){273, (uint16_t)array_type, w->strips, w->strips > 1 ? arrays_off : data};
        e[n++] = (ifd_entry){277, T_SHORT, 1, 1};
        e[n++] = (ifd_entry){278, T_LONG, 1, w->rows_per_strip};
        e[n++] = (ifd_entry){279, (uint16_t)array_type, w->strips,
                             w->strips > 1 ? arrays_off + arrays / 2 : w->frame_bytes};
        if (has_res) {
            e[n++] = (ifd_entry){282, T_RATIONAL, 1, res_value};
            e[n++] = (ifd_entry){283, T_RATIONAL, 1, res_value};
        }
        e[n++] = (ifd_entry){284, T_SHORT, 1, 1}; /* contiguous samples */
        if (has_res) e[n++] = (ifd_entry){296, T_SHORT, 1, 1}; /* resolution unit: none (ImageJ's "unit=") */
        if (i == 0) e[n++] = (ifd_entry){305, T_ASCII, sizeof software, soft_off};
        e[n++] = (ifd_entry){339, T_SHORT, 1, w->type == SM_SAMPLE_F32 ? 3 : 1};
        uint64_t ifd_size = (uint64_t)(big ? 8 : 2) + (uint64_t)n * (uint64_t)(big ? 20 : 12) + (uint64_t)ob;
        uint64_t next = 0;
        if (i + 1 < w->written) next = pos + ifd_size + arrays;
        if (i == 0) first_ifd = pos;
        failed |= write_ifd(fp, big, e, n, next) < 0;
        pos += ifd_size;
    }
    if (!big && pos > ((uint64_t)4 << 30) - 1) {
        rc = sm_error_set(err, SM_EINVAL, "%s: passes the 4 GiB of a classic TIFF", w->file.path);
        goto fail;
    }
    if (!failed) {
        failed |= fseeko(fp, big ? 8 : 4, SEEK_SET) != 0;
        failed |= write_le(fp, first_ifd, ob) < 0;
    }
    if (failed) {
        rc = sm_error_set(err, SM_EIO, "%s: write failed: %s", w->file.path, strerror(errno));
        goto fail;
    }
    rc = sm_atomic_commit(&w->file, err);
    free(w);
    return rc;
fail:
    sm_atomic_abort(&w->file);
    free(w);
    return rc;
}

void sm_tiff_writer_abort(sm_tiff_writer *w) {
    if (!w) return;
    sm_atomic_abort(&w->file);
    free(w);
}

/* ================================================================ PNG */


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
    sm_png_errors ctx;
    ctx.msg[0] = 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, sm_png_error_fn, sm_png_warning_fn);
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


/* Compresses a gray plane into either fp or a memory buffer (*mem, *mem_size, freed by the caller). */
static int jpeg_compress_gray(const char *what, FILE *fp, unsigned char **mem, unsigned long *mem_size,
                              const uint8_t *data, int width, int height, int quality, sm_error *err) {
    struct jpeg_compress_struct cinfo;
    sm_jpeg_errors ctx;
    sm_jpeg_errors_init(&ctx);
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
    sm_jpeg_errors ctx;
    sm_jpeg_errors_init(&ctx);
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
