/* samem segment VIDEO (--box ... | --point ... | --prompts F | --auto) -o OUT: promptable segmentation and
 * propagation (include/samem/model.h) to OUT/masks.tif and OUT/tracks.csv. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "model/cli_model.h"
#include "samem/model.h"

/* ---------------------------------------------------------------- options shared with samem run */

void sm_cli_model_free(sm_cli_model_setup *ms) {
    free(ms->prompts);
    sm_model_destroy(ms->model);
    memset(ms, 0, sizeof *ms);
}

int sm_cli_model_parse(const sm_args *a, sm_cli_model_setup *ms, int default_auto) {
    memset(ms, 0, sizeof *ms);
    sm_segment_options_default(&ms->opt);
    sm_error err = {0};
    long long frame = 0;
    if (sm_args_int(a, "frame", 0, (long long)1 << 50, &frame)) return 1;
    const char *boxes[SM_MAX_OPTIONS], *points[SM_MAX_OPTIONS];
    int nb = sm_args_get_all(a, "box", boxes, SM_MAX_OPTIONS);
    int np = sm_args_get_all(a, "point", points, SM_MAX_OPTIONS);
    const char *pfile = sm_args_get(a, "prompts");
    sm_prompt *filep = NULL;
    int nf = 0;
    if (pfile && sm_prompts_read_json(pfile, &filep, &nf, &err) < 0) return sm_cli_fail(&err);
    ms->prompts = calloc((size_t)(nb + np + nf + 1), sizeof(sm_prompt));
    if (!ms->prompts) {
        free(filep);
        fprintf(stderr, "samem: out of memory\n");
        return 2;
    }
    for (int i = 0; i < nb; i++)
        if (sm_prompt_parse_box(boxes[i], frame, &ms->prompts[ms->n_prompts++], &err) < 0) {
            free(filep);
            sm_cli_model_free(ms);
            return sm_cli_usage_error(a->command, "%s", err.msg);
        }
    for (int i = 0; i < np; i++)
        if (sm_prompt_parse_point(points[i], frame, &ms->prompts[ms->n_prompts++], &err) < 0) {
            free(filep);
            sm_cli_model_free(ms);
            return sm_cli_usage_error(a->command, "%s", err.msg);
        }
    for (int i = 0; i < nf; i++) ms->prompts[ms->n_prompts++] = filep[i];
    free(filep);
    ms->opt.auto_detect = sm_args_flag(a, "auto") || (default_auto && ms->n_prompts == 0);
    if (ms->n_prompts == 0 && !ms->opt.auto_detect) {
        sm_cli_model_free(ms);
        return sm_cli_usage_error(a->command, "give prompts (--box, --point, --prompts) or --auto");
    }
    const char *refine = sm_args_get(a, "refine");
    if (refine) {
        if (strcmp(refine, "auto") == 0) ms->opt.refine = SM_SHAPE_AUTO;
        else if (strcmp(refine, "ellipse") == 0 || strcmp(refine, "disk") == 0) ms->opt.refine = SM_SHAPE_ELLIPSE;
        else if (strcmp(refine, "rod") == 0 || strcmp(refine, "spherocylinder") == 0) ms->opt.refine = SM_SHAPE_SPHEROCYL;
        else if (strcmp(refine, "triangle") == 0) ms->opt.refine = SM_SHAPE_TRIANGLE;
        else if (strcmp(refine, "square") == 0 || strcmp(refine, "cube") == 0) ms->opt.refine = SM_SHAPE_SQUARE;
        else if (strcmp(refine, "hexagon") == 0) ms->opt.refine = SM_SHAPE_HEXAGON;
        else if (strcmp(refine, "none") == 0) ms->opt.refine = SM_SHAPE_NONE;
        else {
            sm_cli_model_free(ms);
            return sm_cli_usage_error(a->command,
                                      "--refine wants auto, ellipse, rod, triangle, square, hexagon or none, got '%s'", refine);
        }
    }
    const char *pol = sm_args_get(a, "polarity");
    if (pol) {
        if (strcmp(pol, "dark") == 0) ms->opt.polarity = -1;
        else if (strcmp(pol, "bright") == 0) ms->opt.polarity = 1;
        else if (strcmp(pol, "auto") == 0) ms->opt.polarity = 0;
        else {
            sm_cli_model_free(ms);
            return sm_cli_usage_error(a->command, "--polarity wants dark, bright or auto, got '%s'", pol);
        }
    }
    if (sm_args_double(a, "min-area", 0, 1e12, &ms->opt.min_area) || sm_args_double(a, "max-area", 0, 1e12, &ms->opt.max_area) ||
        sm_args_double(a, "min-contrast", 0, 1e6, &ms->opt.min_contrast) || sm_args_double(a, "min-score", 0, 1, &ms->opt.min_score)) {
        sm_cli_model_free(ms);
        return 1;
    }
    long long redetect = ms->opt.redetect_every;
    if (sm_args_int(a, "redetect-every", 0, 1000000, &redetect)) {
        sm_cli_model_free(ms);
        return 1;
    }
    ms->opt.redetect_every = (int)redetect;
    long long views = ms->opt.faint_views;
    if (sm_args_int(a, "faint-views", 1, 4, &views)) {
        sm_cli_model_free(ms);
        return 1;
    }
    if (views == 3) {
        sm_cli_model_free(ms);
        return sm_cli_usage_error(a->command, "--faint-views wants 1, 2 or 4, got 3");
    }
    ms->opt.faint_views = (int)views;
    const char *method = sm_args_get(a, "method");
    const char *weights = sm_args_get(a, "weights");
    if (method && strcmp(method, "net") != 0 && strcmp(method, "classic") != 0) {
        sm_cli_model_free(ms);
        return sm_cli_usage_error(a->command, "--method wants net or classic, got '%s'", method);
    }
    int want_net = method ? strcmp(method, "net") == 0 : 1;
    if (want_net) {
        char exe[4096] = {0};
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len < 0) exe[0] = 0;
        if (weights) snprintf(ms->weights, sizeof ms->weights, "%s", weights);
        else if (!sm_model_default_path(exe[0] ? exe : NULL, ms->weights, sizeof ms->weights)) ms->weights[0] = 0;
        if (!ms->weights[0]) {
            if (method) {
                sm_cli_model_free(ms);
                fprintf(stderr, "samem %s: no network weights found (models/samem.safetensors); give --weights FILE or --method classic\n", a->command);
                return 2;
            }
            /* said aloud: a scientist comparing runs must know that the classic baseline made these masks */
            if (!a->quiet)
                fprintf(stderr, "samem %s: no network weights found (models/samem.safetensors beside the program or in "
                                "the working directory, or SAMEM_WEIGHTS); using --method classic\n", a->command);
            want_net = 0;
        } else if (sm_model_load(&ms->model, ms->weights, &err) < 0) {
            if (method || weights) {
                sm_cli_model_free(ms);
                return sm_cli_fail(&err);
            }
            if (!a->quiet) fprintf(stderr, "samem %s: %s; using --method classic\n", a->command, err.msg);
            want_net = 0;
        }
    }
    ms->opt.method = want_net ? SM_METHOD_NET : SM_METHOD_CLASSIC;
    ms->opt.model = ms->model;
    return 0;
}

/* ---------------------------------------------------------------- samem segment */

static int run_segment(const sm_args *a) {
    sm_error err = {0};
    const char *out = sm_args_get(a, "o");
    if (!out) return sm_cli_usage_error(a->command, "-o OUT is required");
    sm_cli_model_setup ms;
    int rc = sm_cli_model_parse(a, &ms, 0);
    if (rc) return rc;
    sm_video *v;
    if (sm_video_open(&v, a->positional[0], &err) < 0) {
        sm_cli_model_free(&ms);
        return sm_cli_fail(&err);
    }
    sm_segment_stats st;
    rc = sm_segment_video(v, ms.prompts, ms.n_prompts, &ms.opt, out, a->quiet, NULL, &st, &err);
    sm_video_close(v);
    const char *used = ms.opt.method == SM_METHOD_NET ? "network" : "classic";
    sm_cli_model_free(&ms);
    if (rc < 0) return sm_cli_fail(&err);
    if (!a->quiet)
        fprintf(stderr, "segment: %lld frames, %d objects, method %s, %.1f frames/s -> %s/masks.tif, %s/tracks.csv\n",
                (long long)st.frames, st.objects, used, st.frames_per_s, out, out);
    return 0;
}

const sm_command sm_cmd_segment = {
    .name = "segment",
    .summary = "segment and follow particles from prompts (box, points) or automatically",
    .usage = "samem segment VIDEO (--box ID:X0,Y0,X1,Y1 | --point ID:X,Y[:neg] | --prompts F.json | --auto) [--frame N] -o OUT",
    .description =
        "Writes OUT/masks.tif (uint16 labels, label = object id) and OUT/tracks.csv (trackpy columns with\n"
        "score, x_err, y_err). Prompts may be repeated, one or more per object; --frame N puts the command-line\n"
        "prompts on frame N (propagation then runs backward to frame 0 as well as forward). An object that\n"
        "leaves the field gets no mask until it is found again. --method net (default when weights are found)\n"
        "uses the samem network, --method classic the threshold baseline.\n"
        "example: samem segment run.tif --box 1:100,120,140,150 --point 2:300,310 -o seg",
    .min_positional = 1,
    .max_positional = 1,
    .options = SM_CLI_MODEL_OPTIONS,
    .run = run_segment,
};
