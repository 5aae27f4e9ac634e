/* The list of readers, strongest magic numbers first. Each reader is one file in src/io. */
#include "io/format.h"

extern const sm_io_format sm_io_format_tiff;
extern const sm_io_format sm_io_format_imgseq;
extern const sm_io_format sm_io_format_dm;
extern const sm_io_format sm_io_format_ser;
extern const sm_io_format sm_io_format_emd;
extern const sm_io_format sm_io_format_mrc;
extern const sm_io_format sm_io_format_av;

const sm_io_format *const sm_io_formats[] = {
    &sm_io_format_tiff,
    &sm_io_format_dm,
    &sm_io_format_ser,
    &sm_io_format_emd,
    &sm_io_format_mrc,
    &sm_io_format_imgseq,
    &sm_io_format_av,
    NULL,
};
