/* libpng and libjpeg report errors through callbacks that must not return (they longjmp back to the caller)
 * and print warnings to stderr unless told otherwise. These are the shared callbacks for the PNG/JPEG readers
 * (imgseq.c) and writers (writers.c): errors become a message and a longjmp, warnings are kept, never printed. */
#ifndef SM_IO_CODEC_ERRORS_H
#define SM_IO_CODEC_ERRORS_H

#include <setjmp.h>
#include <stdio.h>

#include <jpeglib.h>
#include <png.h>

/* Pass as libpng's error pointer with sm_png_error_fn / sm_png_warning_fn; setjmp(jmp) before any call. */
typedef struct sm_png_errors {
    jmp_buf jmp;
    char msg[200];
} sm_png_errors;

void sm_png_error_fn(png_structp png, png_const_charp msg);
void sm_png_warning_fn(png_structp png, png_const_charp msg);

/* libjpeg's error manager comes first, so that the library's err pointer is this struct. */
typedef struct sm_jpeg_errors {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
} sm_jpeg_errors;

/* jpeg_std_error plus our callbacks: errors longjmp with msg set; the first warning (corrupt data, premature
 * end: level -1) is kept in msg and counted in mgr.num_warnings; nothing is printed. */
void sm_jpeg_errors_init(sm_jpeg_errors *e);

#endif
