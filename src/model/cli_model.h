/* Options shared by `samem segment` and `samem run`: prompts, method, weights and the automatic mode's
 * filters, parsed into sm_segment_options and a prompt list. Implemented in src/cli/cmd_segment.c; declared here (src/model owns it) for cmd_segment.c and cmd_run.c. */
#ifndef SM_MODEL_CLI_MODEL_H
#define SM_MODEL_CLI_MODEL_H

#include "cli/cli.h"
#include "samem/model.h"

#define SM_CLI_MODEL_OPTIONS_LIST                                                                          \
    {"o", "OUT", "output folder"},                                                                         \
    {"box", "ID:X0,Y0,X1,Y1", "box prompt for object ID (px); repeatable"},                                \
    {"point", "ID:X,Y[:neg]", "point prompt for object ID (px), negative with :neg; repeatable"},          \
    {"prompts", "FILE", "prompts from a JSON file ([{\"id\":1,\"frame\":0,\"box\":[x0,y0,x1,y1]}, ...])"},   \
    {"frame", "N", "frame of the command-line prompts (default 0)"},                                       \
    {"auto", NULL, "find particles without prompts"},                                                      \
    {"method", "net|classic", "segmenter (default: net when weights are found, else classic)"},            \
    {"weights", "FILE", "network weights (default: models/samem.safetensors)"},                            \
    {"refine", "auto|ellipse|rod|triangle|square|hexagon|none", "sub-pixel shape-model refinement (default auto)"},                \
    {"polarity", "dark|bright|auto", "particle contrast (default auto)"},                                  \
    {"min-area", "PX2", "automatic mode: smallest particle area (default 20)"},                            \
    {"max-area", "PX2", "automatic mode: largest particle area (default a quarter of the frame)"},         \
    {"min-contrast", "SIGMA", "automatic mode: smallest smoothed contrast-to-noise (default 5)"},          \
    {"redetect-every", "N", "automatic mode: look for particles that enter every N frames (default 10; 0 never)"}, \
    {"min-score", "S", "objectness below which an object gets no mask (default 0.5)"},                      \
    {"faint-views", "1|2|4", "network passes over mirrored crops for faint particles (default 4; 1 fastest)"}

#define SM_CLI_MODEL_OPTIONS (const sm_option_spec[]){SM_CLI_MODEL_OPTIONS_LIST, {NULL, NULL, NULL}}

typedef struct sm_cli_model_setup {
    sm_segment_options opt;
    sm_prompt *prompts;
    int n_prompts;
    sm_model *model;   /* owned */
    char weights[4096];
} sm_cli_model_setup;

/* Parses the options; returns 0, or an exit code after printing the error. default_auto: --auto is implied
 * when no prompt is given (samem run). */
int sm_cli_model_parse(const sm_args *a, sm_cli_model_setup *ms, int default_auto);
void sm_cli_model_free(sm_cli_model_setup *ms);

#endif
