/* Placeholder for the imgseq reader while it is being written (probe scores 0, so nothing opens with it). */
#include "io/format.h"

static int probe(const uint8_t *head, size_t n, const char *path, int is_dir) {
    (void)head; (void)n; (void)path; (void)is_dir;
    return 0;
}
static int open_(const char *path, sm_video_info *info, void **priv, sm_error *err) {
    (void)info; (void)priv;
    return sm_error_set(err, SM_EFORMAT, "%s: reader not ready", path);
}
static int read_frame(void *priv, const sm_video_info *info, int64_t i, float *out, sm_error *err) {
    (void)priv; (void)info; (void)i; (void)out;
    return sm_error_set(err, SM_EINTERNAL, "reader not ready");
}
static void close_(void *priv) { (void)priv; }

const sm_io_format sm_io_format_imgseq = {.name = "imgseq", .probe = probe, .open = open_, .read_frame = read_frame, .close = close_};
