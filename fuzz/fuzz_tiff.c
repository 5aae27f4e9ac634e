/* libFuzzer target for the TIFF reader (classic, BigTIFF, ImageJ single-IFD stacks, strips, tiles, libtiff codecs): the input is written to a scratch file, opened with
 * sm_video_open (format chosen by probing, as for users) and up to 8 frames are read. Any outcome but a
 * crash, a leak or undefined behaviour is fine. Allocations over 64 MB are refused (SAMEM_MAX_ALLOC), as
 * a hostile header must be refused before allocating. Seeds: fuzz/corpus/fuzz_tiff/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "samem/io.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[256];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    setenv("SAMEM_MAX_ALLOC", "67108864", 1);
    snprintf(path, sizeof path, "/tmp/samem_fuzz_%ld.tif", (long)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    fwrite(data, 1, size, fp);
    fclose(fp);
    sm_error err = {0};
    sm_video *v;
    if (sm_video_open(&v, path, &err) == 0) {
        const sm_video_info *in = sm_video_get_info(v);
        size_t n;
        if (sm_size_mul(&n, (size_t)in->width, (size_t)in->height, sizeof(float), "frame", &err) == 0) {
            float *f = malloc(n);
            for (int64_t k = 0; f && k < in->frames && k < 8; k++) sm_video_read_frame(v, k, f, &err);
            free(f);
        }
        sm_video_close(v);
    }
    unlink(path);
    return 0;
}
