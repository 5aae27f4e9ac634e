/* libFuzzer target for the SER header, offset array and element checks (src/io/ser.c), opened with that reader directly.
 * Seeds: fuzz/corpus/fuzz_ser/. */
#include "fuzz_file.h"

extern const sm_io_format sm_io_format_ser;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_open_format(&sm_io_format_ser, data, size, fuzz_write_scratch(data, size, "ser"));
    return 0;
}
