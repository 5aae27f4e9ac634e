/* libFuzzer target for the MRC header checks (src/io/mrc.c), opened with that reader directly.
 * Seeds: fuzz/corpus/fuzz_mrc/. */
#include "fuzz_file.h"

extern const sm_io_format sm_io_format_mrc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_open_format(&sm_io_format_mrc, data, size, fuzz_write_scratch(data, size, "mrc"));
    return 0;
}
