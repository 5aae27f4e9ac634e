/* libFuzzer target for the PNG frame reader (libpng behind src/io/imgseq.c), reached as users reach it: through sm_video_open's probing.
 * Seeds: fuzz/corpus/fuzz_png/. */
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_open_video(fuzz_write_scratch(data, size, "png"));
    return 0;
}
