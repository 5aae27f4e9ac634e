/* libFuzzer target for the TIFF reader (classic, BigTIFF, ImageJ single-IFD stacks, strips, tiles, libtiff codecs), reached as users reach it: through sm_video_open's probing.
 * Seeds: fuzz/corpus/fuzz_tiff/. */
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_open_video(fuzz_write_scratch(data, size, "tif"));
    return 0;
}
