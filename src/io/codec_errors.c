/* Error callbacks shared by the PNG and JPEG readers and writers (see codec_errors.h). */
#include "io/codec_errors.h"

void sm_png_error_fn(png_structp png, png_const_charp msg) {
    sm_png_errors *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jmp, 1);
}

void sm_png_warning_fn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void jpeg_error_exit_fn(j_common_ptr cinfo) {
    sm_jpeg_errors *e = (sm_jpeg_errors *)cinfo->err;
    e->mgr.format_message(cinfo, e->msg);
    longjmp(e->jmp, 1);
}

static void jpeg_emit_message_fn(j_common_ptr cinfo, int level) {
    sm_jpeg_errors *e = (sm_jpeg_errors *)cinfo->err;
    if (level < 0) {
        if (e->mgr.num_warnings == 0) e->mgr.format_message(cinfo, e->msg);
        e->mgr.num_warnings++;
    }
}

static void jpeg_output_message_fn(j_common_ptr cinfo) { (void)cinfo; }

void sm_jpeg_errors_init(sm_jpeg_errors *e) {
    jpeg_std_error(&e->mgr);
    e->mgr.error_exit = jpeg_error_exit_fn;
    e->mgr.emit_message = jpeg_emit_message_fn;
    e->mgr.output_message = jpeg_output_message_fn;
    e->msg[0] = 0;
}
