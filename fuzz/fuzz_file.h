/* Shared by the file-parser fuzz targets: every parser reads from a path, so each input is first written to
 * one scratch file per process (in /dev/shm when it is writable), then handed to the reader. Allocations
 * over 64 MB are refused (SAMEM_MAX_ALLOC): a hostile header must be refused before allocating. Any
 * outcome but a crash, a hang, a leak or undefined behaviour is fine. */
#ifndef SM_FUZZ_FILE_H
#define SM_FUZZ_FILE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/format.h"
#include "samem/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_path[256];
static int fuzz_fd = -1;

static void fuzz_remove_scratch(void) { unlink(fuzz_path); }

/* Writes the input to the scratch file "samem_fuzz_<pid>.<ext>" and returns its path. */
static const char *fuzz_write_scratch(const uint8_t *data, size_t size, const char *ext) {
    if (fuzz_fd < 0) {
        setenv("SAMEM_MAX_ALLOC", "67108864", 1);
        snprintf(fuzz_path, sizeof fuzz_path, "%s/samem_fuzz_%ld.%s",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid(), ext);
        fuzz_fd = open(fuzz_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fuzz_fd < 0) abort();
        atexit(fuzz_remove_scratch);
    }
    if (ftruncate(fuzz_fd, 0) != 0 || pwrite(fuzz_fd, data, size, 0) != (ssize_t)size) abort();
    return fuzz_path;
}

/* As users reach a reader: sm_video_open probes the format; then up to 8 frames are read. */
static void fuzz_open_video(const char *path) {
    sm_error err = {0};
    sm_video *v;
    if (sm_video_open(&v, path, &err) != 0) return;
    const sm_video_info *in = sm_video_get_info(v);
    size_t n;
    if (sm_size_mul(&n, (size_t)in->width, (size_t)in->height, sizeof(float), "frame", &err) == 0) {
        float *f = malloc(n);
        for (int64_t k = 0; f && k < in->frames && k < 8; k++) sm_video_read_frame(v, k, f, &err);
        free(f);
    }
    sm_video_close(v);
}

/* One reader directly, so that inputs its probe would reject still reach the parser: probe, open, and read
 * up to four frames from the end. */
static void fuzz_open_format(const sm_io_format *format, const uint8_t *data, size_t size, const char *path) {
    format->probe(data, size < SM_PROBE_HEAD_BYTES ? size : SM_PROBE_HEAD_BYTES, path, 0);
    sm_video_info info = {0};
    void *priv = NULL;
    sm_error err = {0};
    if (format->open(path, &info, &priv, &err) != 0) return;
    size_t n = (size_t)info.width * (size_t)info.height;
    float *plane = n ? malloc(sizeof(float) * n) : NULL;
    for (int64_t i = 0; plane && i < info.frames && i < 4; i++)
        if (format->read_frame(priv, &info, info.frames - 1 - i, plane, &err) < 0) break;
    free(plane);
    format->close(priv);
}

#endif
