/* Training: a tiny run on simulated clips is reproducible from its seed (bit-identical weights), writes its
 * log and checkpoint, resumes from the checkpoint, and rejects bad configurations. A network with frames
 * ahead in its input trains, loads, and runs in a session that reads every frame once. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "samem/model.h"
#include "samem/nn.h"
#include "test.h"

/* The two weight files hold the same tensors, bit for bit (the metadata holds the wall time, so it differs). */
static int same_weights(const char *pa, const char *pb) {
    sm_error err = {0};
    sm_nn_st *a = NULL, *b = NULL;
    int same = sm_nn_st_read(pa, &a, &err) == 0 && sm_nn_st_read(pb, &b, &err) == 0;
    same = same && sm_nn_st_count(a) == sm_nn_st_count(b) && sm_nn_st_count(a) > 10;
    for (int i = 0; same && i < sm_nn_st_count(a); i++) {
        const char *dt;
        int nd;
        const int64_t *sh;
        const void *da, *db;
        size_t na, nb;
        const char *name = sm_nn_st_tensor(a, i, &dt, &nd, &sh, &da, &na);
        int j = sm_nn_st_find(b, name);
        if (j < 0) {
            same = 0;
            break;
        }
        sm_nn_st_tensor(b, j, &dt, &nd, &sh, &db, &nb);
        same = na == nb && memcmp(da, db, na) == 0;
    }
    sm_nn_st_destroy(a);
    sm_nn_st_destroy(b);
    return same;
}

/* Stops a training after its second step, as a kill would (the checkpoint of step 2 is written). */
static int stop_after_two(const sm_train_report *r, void *user) {
    (void)user;
    return r->step >= 2;
}

/* A reader of noise frames with one dark disk that counts how often each frame is read. */
#define RW 96
#define RF 12
static int reads[RF];
static int count_reader(void *user, int64_t i, float *out, sm_error *err) {
    (void)user, (void)err;
    reads[i]++;
    sm_rng r;
    sm_rng_seed_stream(&r, 3, (uint64_t)i);
    for (int y = 0; y < RW; y++)
        for (int x = 0; x < RW; x++)
            out[y * RW + x] = (float)(100 + 5 * sm_rng_normal(&r) - ((x - 40 - i) * (x - 40 - i) + (y - 50) * (y - 50) < 64 ? 15 : 0));
    return 0;
}

static int count_lines(const char *path) {
    FILE *fp = fopen(path, "r");
    if (!fp) return -1;
    int n = 0, c;
    while ((c = fgetc(fp)) != EOF) n += c == '\n';
    fclose(fp);
    return n;
}

/* Writes json to cfg and trains from it into out: the return code. */
static int train_with(const char *cfg, const char *json, const char *out, sm_error *err) {
    FILE *fp = fopen(cfg, "w");
    if (!fp) return SM_EIO;
    fputs(json, fp);
    fclose(fp);
    return sm_model_train(cfg, out, 0, 0, NULL, NULL, err);
}

int main(void) {
    sm_error err = {0};
    char cfg[4096], w1[4096], w2[4096], path[4096];
    sm_test_tmp_path(cfg, sizeof cfg, "tiny.json");
    FILE *fp = fopen(cfg, "w");
    fprintf(fp, "{\"seed\": 5, \"net\": {\"base\": 2}, \"steps\": 4, \"batch\": 2, \"warmup\": 1, \"val_every\": 2,"
                " \"val_samples\": 1, \"checkpoint_every\": 2, \"log_every\": 1,"
                " \"clip\": {\"size\": 64, \"frames\": 6, \"pool\": 1, \"refresh\": 100}}");
    fclose(fp);
    sm_test_tmp_path(w1, sizeof w1, "w1.safetensors");
    sm_test_tmp_path(w2, sizeof w2, "w2.safetensors");
    int rc = sm_model_train(cfg, w1, 0, 0, NULL, NULL, &err);
    SM_CHECKF("tiny training runs", rc == 0, "%s", err.msg);
    rc = sm_model_train(cfg, w2, 0, 0, NULL, NULL, &err);
    SM_CHECKF("second run", rc == 0, "%s", err.msg);
    /* same seed, same thread count: the same tensors */
    SM_CHECK("same seed: bit-identical weights", same_weights(w1, w2));
    /* the preset clips' noise correlation drawn from a range: other training data, other weights */
    char cfgn[4096];
    sm_test_tmp_path(cfgn, sizeof cfgn, "tiny_noise.json");
    rc = train_with(cfgn,
                    "{\"seed\": 5, \"net\": {\"base\": 2}, \"steps\": 4, \"batch\": 2, \"warmup\": 1, \"val_every\": 2,"
                    " \"val_samples\": 1, \"checkpoint_every\": 2, \"log_every\": 1, \"preset_noise_corr\": [1.5, 1.5],"
                    " \"clip\": {\"size\": 64, \"frames\": 6, \"pool\": 1, \"refresh\": 100}}",
                    w2, &err);
    SM_CHECKF("training with preset_noise_corr runs", rc == 0, "%s", err.msg);
    SM_CHECK("preset_noise_corr changes the training data", !same_weights(w1, w2));
    sm_nn_st *a = NULL;
    if (sm_nn_st_read(w1, &a, &err) == 0) {
        const char *steps = sm_nn_st_meta(a, "steps");
        const char *sched = sm_nn_st_meta(a, "schedule_steps");
        SM_CHECK("metadata records the steps, the schedule's length and the network",
                 steps && strcmp(steps, "4") == 0 && sched && strcmp(sched, "4") == 0 && sm_nn_st_meta(a, "samem_net"));
        SM_CHECK("final weights carry no optimizer state", sm_nn_st_find(a, "adamw.m.enc1a.conv.weight") < 0);
        sm_nn_st_destroy(a);
    }
    /* killed after step 2 and resumed: the same weights as the uninterrupted run (AdamW's moments are in
     * the checkpoint) */
    char w3[4096], ck3[4096];
    sm_test_tmp_path(w3, sizeof w3, "w3.safetensors");
    rc = sm_model_train(cfg, w3, 0, 0, stop_after_two, NULL, &err);
    snprintf(ck3, sizeof ck3, "%s.ckpt", w3);
    SM_CHECKF("a run stopped after 2 steps leaves a checkpoint", rc == 0 && access(ck3, R_OK) == 0, "%s", err.msg);
    if (sm_nn_st_read(ck3, &a, &err) == 0) {
        const char *steps = sm_nn_st_meta(a, "steps");
        SM_CHECK("the checkpoint is at step 2 and holds AdamW's moments",
                 steps && strcmp(steps, "2") == 0 && sm_nn_st_find(a, "adamw.m.enc1a.conv.weight") >= 0 &&
                     sm_nn_st_find(a, "adamw.v.head.weight") >= 0);
        sm_nn_st_destroy(a);
    }
    rc = sm_model_train(cfg, w3, 1, 0, NULL, NULL, &err);
    SM_CHECKF("resumed run finishes", rc == 0, "%s", err.msg);
    SM_CHECK("killed and resumed: bit-identical to the uninterrupted run", same_weights(w1, w3));
    /* resumed from a config whose "steps" changed since (as after a run that --minutes cut short): the run
     * ends the checkpoint's schedule, bit-identical to the uninterrupted run */
    char w4[4096], cfg8[4096];
    sm_test_tmp_path(w4, sizeof w4, "w4.safetensors");
    sm_test_tmp_path(cfg8, sizeof cfg8, "tiny8.json");
    rc = sm_model_train(cfg, w4, 0, 0, stop_after_two, NULL, &err);
    fp = fopen(cfg8, "w");
    fprintf(fp, "{\"seed\": 5, \"net\": {\"base\": 2}, \"steps\": 8, \"batch\": 2, \"warmup\": 1, \"val_every\": 2,"
                " \"val_samples\": 1, \"checkpoint_every\": 2, \"log_every\": 1,"
                " \"clip\": {\"size\": 64, \"frames\": 6, \"pool\": 1, \"refresh\": 100}}");
    fclose(fp);
    if (rc == 0) rc = sm_model_train(cfg8, w4, 1, 0, NULL, NULL, &err);
    SM_CHECKF("resumed with another \"steps\" runs", rc == 0, "%s", err.msg);
    SM_CHECK("resumed with another \"steps\": the checkpoint's schedule, the uninterrupted run's weights",
             same_weights(w1, w4));
    snprintf(path, sizeof path, "%s.log.csv", w1);
    SM_CHECKF("log has a header and 4 step lines", count_lines(path) == 5, "%d lines", count_lines(path));
    snprintf(path, sizeof path, "%s.ckpt", w1);
    SM_CHECK("checkpoint written", access(path, R_OK) == 0);
    /* resume: the checkpoint is at step 4 of 4, so the run only writes the final weights again */
    rc = sm_model_train(cfg, w1, 1, 0, NULL, NULL, &err);
    SM_CHECKF("resume from the checkpoint runs", rc == 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s.log.csv", w1);
    SM_CHECKF("resume at the end adds no step", count_lines(path) == 5, "%d lines", count_lines(path));
    /* a fine-tuning phase added to the finished run's config: 2 more steps with the Lovasz hinge, the learning
     * rate falling from the phase's 5e-4 (cosine to min_lr 1e-4: 5e-4, then 3e-4) */
    fp = fopen(cfg, "w");
    fprintf(fp, "{\"seed\": 5, \"net\": {\"base\": 2}, \"steps\": 4, \"batch\": 2, \"warmup\": 1, \"val_every\": 2,"
                " \"val_samples\": 1, \"checkpoint_every\": 2, \"log_every\": 1,"
                " \"clip\": {\"size\": 64, \"frames\": 6, \"pool\": 1, \"refresh\": 100},"
                " \"finetune\": {\"steps\": 2, \"lr\": 0.0005, \"lovasz\": 1}}");
    fclose(fp);
    rc = sm_model_train(cfg, w1, 1, 0, NULL, NULL, &err);
    SM_CHECKF("the fine-tuning phase runs on from the checkpoint", rc == 0, "%s", err.msg);
    {
        double lr5 = 0, lr6 = 0;
        fp = fopen(path, "r");
        char line[512];
        while (fp && fgets(line, sizeof line, fp)) {
            long long st;
            double sec, loss, lr;
            if (sscanf(line, "%lld,%lf,%lf,%lf", &st, &sec, &loss, &lr) == 4) {
                if (st == 5) lr5 = lr;
                if (st == 6) lr6 = lr;
            }
        }
        if (fp) fclose(fp);
        SM_CHECKF("fine-tuning: 2 more steps logged at its own learning rates",
                  count_lines(path) == 7 && fabs(lr5 - 5e-4) < 1e-9 && fabs(lr6 - 3e-4) < 1e-9, "%d lines, lr %g %g",
                  count_lines(path), lr5, lr6);
    }
    if (sm_nn_st_read(w1, &a, &err) == 0) {
        const char *steps = sm_nn_st_meta(a, "steps");
        SM_CHECK("fine-tuned weights record 6 steps", steps && strcmp(steps, "6") == 0);
        sm_nn_st_destroy(a);
    }
    /* 2 frames ahead and 6 behind: 9 + 2 + 2 input channels, and a session reads each frame once */
    fp = fopen(cfg, "w");
    fprintf(fp, "{\"seed\": 5, \"net\": {\"base\": 2, \"future\": 2, \"past\": 6}, \"border_positions\": \"seen\", \"steps\": 2, \"batch\": 2, \"warmup\": 1,"
                " \"val_every\": 2, \"val_samples\": 1, \"checkpoint_every\": 2, \"log_every\": 1,"
                " \"clip\": {\"size\": 64, \"frames\": 8, \"pool\": 1, \"refresh\": 100}}");
    fclose(fp);
    rc = sm_model_train(cfg, w2, 0, 0, NULL, NULL, &err);
    SM_CHECKF("training with 2 frames ahead and 6 behind runs", rc == 0, "%s", err.msg);
    if (sm_nn_st_read(w2, &a, &err) == 0) {
        const char *dt;
        int nd;
        const int64_t *sh;
        const void *d;
        size_t nb;
        int j = sm_nn_st_find(a, "enc1a.conv.weight");
        SM_CHECK("first convolution takes 9 + 2 + 2 channels",
                 j >= 0 && sm_nn_st_tensor(a, j, &dt, &nd, &sh, &d, &nb) && nd == 4 && sh[1] == 13);
        sm_nn_st_destroy(a);
    }
    sm_model *m = NULL;
    SM_CHECKF("weights with frames ahead load", sm_model_load(&m, w2, &err) == 0, "%s", err.msg);
    if (m) {
        sm_segment_options o;
        sm_segment_options_default(&o);
        o.method = SM_METHOD_NET, o.model = m;
        sm_session *s = NULL;
        memset(reads, 0, sizeof reads);
        sm_prompt p = {.kind = SM_PROMPT_BOX, .object_id = 1, .frame = 0, .x0 = 30, .y0 = 40, .x1 = 50, .y1 = 60};
        rc = sm_session_open_reader(&s, RW, RW, RF, count_reader, NULL, &o, &err);
        if (rc == 0) rc = sm_session_add_prompt(s, &p, &err);
        if (rc == 0) rc = sm_session_propagate(s, NULL, NULL, &err);
        SM_CHECKF("session with frames ahead propagates", rc == 0, "%s", err.msg);
        int once = 1;
        for (int i = 0; i < RF; i++) once &= reads[i] == 1;
        SM_CHECK("each frame read once in a forward pass", once);
        sm_session_close(s);
        /* a prompt on frame 6: the backward pass (6..0) and the forward pass each read a frame once */
        memset(reads, 0, sizeof reads);
        p.frame = 6;
        rc = sm_session_open_reader(&s, RW, RW, RF, count_reader, NULL, &o, &err);
        if (rc == 0) rc = sm_session_add_prompt(s, &p, &err);
        if (rc == 0) rc = sm_session_propagate(s, NULL, NULL, &err);
        int twice = rc == 0;
        for (int i = 0; i < RF; i++) twice &= reads[i] == (i <= 6 ? 2 : 1);
        SM_CHECK("with a backward pass, frames 0..6 read twice and the rest once", twice);
        sm_session_close(s);
        sm_model_destroy(m);
    }
    /* configurations out of range */
    SM_CHECK("more than 4 frames ahead rejected", train_with(cfg, "{\"net\": {\"future\": 5}}", w1, &err) == SM_EFORMAT);
    SM_CHECK("more than 8 frames behind rejected", train_with(cfg, "{\"net\": {\"past\": 9}}", w1, &err) == SM_EFORMAT);
    SM_CHECK("clips too short for the frames behind rejected",
             train_with(cfg, "{\"net\": {\"past\": 7}, \"clip\": {\"frames\": 8}}", w1, &err) == SM_EFORMAT &&
                 strstr(err.msg, "clip.frames"));
    SM_CHECK("batch 0 rejected with SM_EFORMAT", train_with(cfg, "{\"batch\": 0}", w1, &err) == SM_EFORMAT);
    SM_CHECK("a finetune that is not an object rejected", train_with(cfg, "{\"finetune\": 3}", w1, &err) == SM_EFORMAT);
    SM_CHECK("preset_sizes out of order rejected", train_with(cfg, "{\"preset_sizes\": [20, 10]}", w1, &err) == SM_EFORMAT);
    SM_CHECK("preset_noise_corr out of order rejected",
             train_with(cfg, "{\"preset_noise_corr\": [1.2, 0.3]}", w1, &err) == SM_EFORMAT && strstr(err.msg, "preset_noise_corr"));
    SM_CHECK("negative preset_noise_corr rejected", train_with(cfg, "{\"preset_noise_corr\": [-1, 1]}", w1, &err) == SM_EFORMAT);
    SM_CHECK("sharp_fraction above 1 rejected",
             train_with(cfg, "{\"sharp_fraction\": 1.5}", w1, &err) == SM_EFORMAT && strstr(err.msg, "sharp_fraction"));
    SM_CHECK("an unknown border_positions rejected",
             train_with(cfg, "{\"border_positions\": \"edge\"}", w1, &err) == SM_EFORMAT && strstr(err.msg, "border_positions"));
    SM_CHECK("crop not a multiple of 8 rejected", train_with(cfg, "{\"net\": {\"crop\": 60}}", w1, &err) == SM_EFORMAT);
    SM_CHECK("missing config is SM_EIO", sm_model_train("/nonexistent.json", w1, 0, 0, NULL, NULL, &err) == SM_EIO);
    return sm_test_report();
}
