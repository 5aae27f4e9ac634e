/* The list of readers, strongest magic numbers first. Each reader is one file in src/io. */
#include "io/format.h"

extern const sm_io_format sm_io_format_tiff;
extern const sm_io_format sm_io_format_imgseq;

const sm_io_format *const sm_io_formats[] = {
    &sm_io_format_tiff,
    &sm_io_format_imgseq,
    NULL,
};
