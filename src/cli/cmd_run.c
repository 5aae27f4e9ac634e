/* samem run VIDEO -o OUT: the whole pipeline. Segments (automatic mode unless prompts are given), links the
 * objects into tracks (keeping the segmenter's ids and stitching re-found ones), analyses the motion and
 * writes the report: OUT/masks.tif, tracks.csv, stats.json, msd.csv, plots/, report.html and run.json
 * (inputs, options, version, timings). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "model/cli_model.h"
#include "samem/io.h"
#include "samem/model.h"
#include "samem/plot.h"
#include "samem/stats.h"
#include "samem/track.h"

static int run_run(const sm_args *a) {
    sm_error err = {0};
    const char *out = sm_args_get(a, "o");
    if (!out) return sm_cli_usage_error(a->command, "-o OUT is required");
    double px_nm = 0, dt_s = 0, max_disp = 0;
    if (sm_args_double(a, "pixel-size", 0, 1e9, &px_nm) || sm_args_double(a, "frame-interval", 0, 1e9, &dt_s) ||
        sm_args_double(a, "max-disp", 0, 1e9, &max_disp))
        return 1;
    sm_cli_model_setup ms;
    int rc = sm_cli_model_parse(a, &ms, 1);
    if (rc) return rc;
    double t0 = sm_now();
    sm_video *v;
    if (sm_video_open(&v, a->positional[0], &err) < 0) {
        sm_cli_model_free(&ms);
        return sm_cli_fail(&err);
    }
    sm_video_info info = *sm_video_get_info(v);
    if (px_nm <= 0) px_nm = info.pixel_size_nm;
    if (dt_s <= 0) dt_s = info.frame_interval_s;
    sm_segment_stats st;
    sm_tracks *tracks = NULL;
    rc = sm_segment_video(v, ms.prompts, ms.n_prompts, &ms.opt, out, a->quiet, &tracks, &st, &err);
    sm_video_close(v);
    if (rc < 0) {
        sm_cli_model_free(&ms);
        return sm_cli_fail(&err);
    }
    double t_seg = sm_now();
    /* tracking: the segmenter's ids are identities; linking stitches an id that appears anew onto one that
     * vanished shortly before */
    sm_link_params lp;
    sm_link_params_default(&lp);
    lp.keep_ids = 1;
    if (max_disp > 0) lp.max_disp = max_disp;
    else {
        double amax = 0;
        for (int64_t i = 0; i < tracks->n; i++)
            if (tracks->area[i] > amax) amax = tracks->area[i];
        lp.max_disp = fmax(10, 2 * sqrt(amax / M_PI));
    }
    char path[4096];
    int exit_code = 0;
    sm_stats *stats = NULL;
    if (tracks->n > 0 && (rc = sm_track_link(tracks, &lp, NULL, &err)) < 0) goto fail;
    if ((rc = sm_tracks_sort(tracks, &err)) < 0) goto fail;
    if ((rc = sm_path_join(path, sizeof path, out, "tracks.csv", &err)) < 0) goto fail;
    if ((rc = sm_tracks_write_csv(tracks, path, SM_SEGMENT_COLUMNS, &err)) < 0) goto fail;
    double t_track = sm_now();
    sm_stats_options so;
    sm_stats_options_default(&so);
    so.px_nm = px_nm;
    so.dt_s = dt_s;
    int analysed = 0;
    if (tracks->n > 1) {
        sm_error aerr = {0};
        if (sm_plot_analysis(tracks, &so, out, &stats, &aerr) < 0) {
            /* too few points for statistics is not a failure of the run */
            if (aerr.code != SM_EINVAL) {
                err = aerr;
                rc = aerr.code;
                goto fail;
            }
            if (!a->quiet) fprintf(stderr, "samem run: no motion analysis: %s\n", aerr.msg);
        } else {
            analysed = 1;
        }
    }
    double t_an = sm_now();
    /* run.json */
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "samem_version", SM_VERSION);
    cJSON *in = cJSON_AddObjectToObject(root, "input");
    cJSON_AddStringToObject(in, "video", a->positional[0]);
    cJSON_AddStringToObject(in, "format", info.format);
    cJSON_AddNumberToObject(in, "width", info.width);
    cJSON_AddNumberToObject(in, "height", info.height);
    cJSON_AddNumberToObject(in, "frames", (double)info.frames);
    cJSON_AddNumberToObject(in, "pixel_size_nm", px_nm);
    cJSON_AddNumberToObject(in, "frame_interval_s", dt_s);
    cJSON *op = cJSON_AddObjectToObject(root, "options");
    cJSON_AddStringToObject(op, "method", ms.opt.method == SM_METHOD_NET ? "net" : "classic");
    if (ms.opt.method == SM_METHOD_NET) cJSON_AddStringToObject(op, "weights", ms.weights);
    cJSON_AddBoolToObject(op, "auto", ms.opt.auto_detect);
    cJSON_AddNumberToObject(op, "prompts", ms.n_prompts);
    cJSON_AddNumberToObject(op, "min_area_px2", ms.opt.min_area);
    cJSON_AddNumberToObject(op, "min_contrast", ms.opt.min_contrast);
    if (ms.opt.auto_detect) cJSON_AddNumberToObject(op, "redetect_every", ms.opt.redetect_every);
    cJSON_AddNumberToObject(op, "min_score", ms.opt.min_score);
    if (ms.opt.method == SM_METHOD_NET) cJSON_AddNumberToObject(op, "faint_views", ms.opt.faint_views);
    cJSON_AddNumberToObject(op, "link_max_disp_px", lp.max_disp);
    cJSON_AddNumberToObject(op, "threads", a->threads);
    cJSON *tm = cJSON_AddObjectToObject(root, "timings_s");
    cJSON_AddNumberToObject(tm, "segment", t_seg - t0);
    cJSON_AddNumberToObject(tm, "track", t_track - t_seg);
    cJSON_AddNumberToObject(tm, "analyze_and_report", t_an - t_track);
    cJSON_AddNumberToObject(tm, "total", t_an - t0);
    cJSON *res = cJSON_AddObjectToObject(root, "results");
    cJSON_AddNumberToObject(res, "objects", st.objects);
    cJSON_AddNumberToObject(res, "rows", (double)tracks->n);
    cJSON_AddNumberToObject(res, "segment_frames_per_s", st.frames_per_s);
    cJSON_AddNumberToObject(res, "peak_rss_mb", st.peak_rss_bytes / 1048576.0);
    cJSON_AddBoolToObject(res, "analysed", analysed);
    if (analysed) {
        cJSON_AddNumberToObject(res, "D", stats->ens.D);
        cJSON_AddNumberToObject(res, "D_se", stats->ens.D_se);
        cJSON_AddStringToObject(res, "D_unit", strcmp(stats->len_unit, "nm") == 0 ? (strcmp(stats->time_unit, "s") == 0 ? "nm^2/s" : "nm^2/frame")
                                                                               : (strcmp(stats->time_unit, "s") == 0 ? "px^2/s" : "px^2/frame"));
        cJSON_AddNumberToObject(res, "alpha", stats->ens.alpha);
    }
    cJSON *files = cJSON_AddArrayToObject(root, "outputs");
    const char *names[] = {"masks.tif", "tracks.csv", "stats.json", "msd.csv", "plots/", "report.html"};
    for (int i = 0; i < (analysed ? 6 : 2); i++) cJSON_AddItemToArray(files, cJSON_CreateString(names[i]));
    if ((rc = sm_path_join(path, sizeof path, out, "run.json", &err)) == 0) rc = sm_json_write_file(path, root, &err);
    cJSON_Delete(root);
    if (rc < 0) goto fail;
    if (!a->quiet)
        fprintf(stderr, "run: %lld frames, %d objects, %lld track rows in %.1f s -> %s/%s\n", (long long)info.frames, st.objects,
                (long long)tracks->n, t_an - t0, out, analysed ? "report.html" : "tracks.csv");
    sm_stats_destroy(stats);
    sm_tracks_destroy(tracks);
    sm_cli_model_free(&ms);
    return 0;
fail:
    exit_code = sm_cli_fail(&err);
    sm_stats_destroy(stats);
    sm_tracks_destroy(tracks);
    sm_cli_model_free(&ms);
    return exit_code;
}

const sm_command sm_cmd_run = {
    .name = "run",
    .summary = "segment, track, analyse and report in one go",
    .usage = "samem run VIDEO -o OUT [--box/--point/--prompts ...] [--pixel-size NM] [--frame-interval S]",
    .description =
        "Finds every particle (--auto, the default without prompts) or follows the prompted ones, links them\n"
        "into tracks and analyses their motion: OUT/masks.tif, tracks.csv, stats.json, msd.csv, plots/,\n"
        "report.html and run.json (inputs, options, version, timings). Pixel size and frame interval come\n"
        "from the file when it records them.\n"
        "example: samem run video.tif -o results --pixel-size 0.85 --frame-interval 0.04",
    .min_positional = 1,
    .max_positional = 1,
    .options = (const sm_option_spec[]){SM_CLI_MODEL_OPTIONS_LIST,
                                        {"pixel-size", "NM", "nm per px (default: from the file, else px)"},
                                        {"frame-interval", "S", "s per frame (default: from the file, else frames)"},
                                        {"max-disp", "PX", "largest step when linking (default: the largest particle's diameter)"},
                                        {NULL, NULL, NULL}},
    .run = run_run,
};
