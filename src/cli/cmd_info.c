/* samem info VIDEO: what a file holds, from its header alone. */
#include <stdio.h>

#include "cli/cli.h"
#include "samem/io.h"

static int run_info(const sm_args *a) {
    sm_error err = {0};
    sm_video *v;
    if (sm_video_open(&v, a->positional[0], &err) < 0) return sm_cli_fail(&err);
    const sm_video_info *in = sm_video_get_info(v);
    printf("file:            %s\n", a->positional[0]);
    printf("format:          %s\n", in->format);
    printf("width:           %d px\n", in->width);
    printf("height:          %d px\n", in->height);
    printf("frames:          %lld\n", (long long)in->frames);
    printf("bit depth:       %d%s\n", in->bit_depth, in->is_float ? " (float)" : "");
    if (in->pixel_size_nm > 0) printf("pixel size:      %.6g nm\n", in->pixel_size_nm);
    else printf("pixel size:      unknown\n");
    if (in->frame_interval_s > 0) printf("frame interval:  %.6g s (%.4g frames/s)\n", in->frame_interval_s, 1.0 / in->frame_interval_s);
    else printf("frame interval:  unknown\n");
    sm_video_close(v);
    return 0;
}

const sm_command sm_cmd_info = {
    .name = "info",
    .summary = "print a video's format, size, frame count, bit depth, pixel size and frame interval",
    .usage = "samem info VIDEO",
    .description = "Reads only the file's header. VIDEO is a TIFF stack, a folder of PNG/JPEG frames, DM3/DM4, MRC/MRCS,\n"
                   "EMD (Berkeley or Velox), SER, or a video FFmpeg decodes (AVI, MP4, ...).\n"
                   "example: samem info run.tif",
    .min_positional = 1,
    .max_positional = 1,
    .options = (const sm_option_spec[]){{NULL, NULL, NULL}},
    .run = run_info,
};
