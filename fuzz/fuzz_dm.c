/* libFuzzer target for the DM3/DM4 tag-tree parser (src/io/dm.c), opened with that reader directly.
 * Seeds: fuzz/corpus/fuzz_dm/. */
#include "fuzz_file.h"

extern const sm_io_format sm_io_format_dm;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_open_format(&sm_io_format_dm, data, size, fuzz_write_scratch(data, size, "dm"));
    return 0;
}
