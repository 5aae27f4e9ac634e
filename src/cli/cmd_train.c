/* samem train --config models/samem.json -o weights.safetensors [--resume] [--minutes M]: trains the samem
 * network on simulated clips (src/model/train.c) and prints the learning curve as it goes. */
#include <math.h>
#include <stdio.h>

#include "cli/cli.h"
#include "samem/model.h"

static int on_report(const sm_train_report *r, void *user) {
    int quiet = *(int *)user;
    if (quiet) return 0;
    fprintf(stderr, "step %lld/%lld  %.0f s  loss %.4f  lr %.2g", (long long)r->step, (long long)r->total_steps,
            r->seconds, r->loss, r->lr);
    if (r->has_val)
        fprintf(stderr, "  val IoU thin %.3f medium %.3f thick %.3f  objectness %.3f", r->val_iou[0], r->val_iou[1],
                r->val_iou[2], r->val_obj_acc);
    fprintf(stderr, "\n");
    return 0;
}

static int run_train(const sm_args *a) {
    const char *cfg = sm_args_get(a, "config");
    const char *out = sm_args_get(a, "o");
    if (!cfg) cfg = "models/samem.json";
    if (!out) return sm_cli_usage_error(a->command, "-o WEIGHTS is required");
    double minutes = 0;
    if (sm_args_double(a, "minutes", 0, 1e6, &minutes)) return 1;
    sm_error err = {0};
    int quiet = a->quiet;
    if (sm_model_train(cfg, out, sm_args_flag(a, "resume"), minutes, on_report, &quiet, &err) < 0) return sm_cli_fail(&err);
    if (!quiet) fprintf(stderr, "train: wrote %s (log %s.log.csv, checkpoint %s.ckpt)\n", out, out, out);
    return 0;
}

const sm_command sm_cmd_train = {
    .name = "train",
    .summary = "train the segmentation network on simulated videos",
    .usage = "samem train [--config models/samem.json] -o WEIGHTS.safetensors [--resume] [--minutes M]",
    .description =
        "Generates clips with the simulator on the fly (presets thin/medium/thick and random configurations,\n"
        "all shapes and motions, JPEG), prompts jittered as a person draws them, weighted toward low contrast.\n"
        "Logs loss and validation IoU to WEIGHTS.log.csv, writes WEIGHTS.ckpt (weights and optimizer state)\n"
        "every few dozen steps; --resume continues from it after an interruption, as if uninterrupted.\n"
        "The same config and seed give the same weights on the same machine and build (elsewhere the float\n"
        "sums round differently and the run ends at other weights of the same quality).\n"
        "example: samem train --config models/samem.json -o models/samem.safetensors --minutes 30",
    .min_positional = 0,
    .max_positional = 0,
    .options = (const sm_option_spec[]){{"config", "FILE", "training configuration (default models/samem.json)"},
                                        {"o", "WEIGHTS", "output weights (safetensors)"},
                                        {"resume", NULL, "continue from WEIGHTS.ckpt"},
                                        {"minutes", "M", "shorten the schedule to fit M minutes of training, never beyond the config's \"steps\" (0 = run all steps; the length chosen is the weights' schedule_steps)"},
                                        {NULL, NULL, NULL}},
    .run = run_train,
};
