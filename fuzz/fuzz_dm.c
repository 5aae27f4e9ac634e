/* libFuzzer target for the DM3/DM4 tag-tree parser (src/io/dm.c): each input is written to a scratch file,
 * probed, opened with that reader directly (so inputs the probe would reject still reach the parser), and
 * up to four frames are read. Any crash, hang, leak or sanitizer report is a finding. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/format.h"

extern const sm_io_format sm_io_format_dm;

static char path[256];
static int fd = -1;

static void remove_scratch(void) { unlink(path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (fd < 0) {
        snprintf(path, sizeof path, "%s/samem_fuzz_dm.%ld", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
                 (long)getpid());
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) abort();
        atexit(remove_scratch);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    sm_io_format_dm.probe(data, size < SM_PROBE_HEAD_BYTES ? size : SM_PROBE_HEAD_BYTES, path, 0);
    sm_video_info info = {0};
    void *priv = NULL;
    sm_error err = {0};
    if (sm_io_format_dm.open(path, &info, &priv, &err) == 0) {
        size_t n = (size_t)info.width * (size_t)info.height;
        float *plane = n ? malloc(sizeof(float) * n) : NULL;
        for (int64_t i = 0; plane && i < info.frames && i < 4; i++)
            if (sm_io_format_dm.read_frame(priv, &info, info.frames - 1 - i, plane, &err) < 0) break;
        free(plane);
        sm_io_format_dm.close(priv);
    }
    return 0;
}
