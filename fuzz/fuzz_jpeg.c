/* libFuzzer target for the JPEG frame reader (libjpeg behind src/io/imgseq.c), reached as users reach it: through sm_video_open's probing.
 * Seeds: fuzz/corpus/fuzz_jpeg/. */
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_open_video(fuzz_write_scratch(data, size, "jpg"));
    return 0;
}
