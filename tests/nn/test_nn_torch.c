/* Every nn op, loss and a small U-Net-like network against PyTorch 1.13 (fixtures written by
 * tests/nn/make_fixtures.py, computed in double and stored as float32): outputs, input gradients, parameter
 * gradients and batch-norm running statistics must match within 1e-4 of each tensor's largest magnitude.
 * Each case is rebuilt here with the samem builder; the fixture supplies inputs and parameters by name. Runs
 * on both backend tables (sgemm fast paths and reference loops). */
#include <math.h>
#include <string.h>

#include "nn/nn_impl.h"
#include "samem/nn.h"
#include "test.h"

typedef struct fx {
    sm_nn_st *st;
    sm_nn_net *net;
} fx;

static const float *tensor(const sm_nn_st *st, const char *name, size_t *n, const int64_t **shape, int *ndim) {
    int i = sm_nn_st_find(st, name);
    if (i < 0) return NULL;
    const void *d;
    size_t nb;
    sm_nn_st_tensor(st, i, NULL, ndim, shape, &d, &nb);
    if (n) *n = nb / 4;
    return d;
}

/* an input named like the fixture's "in.<name>" with its shape */
static sm_nn_t in(fx *f, const char *name) {
    char key[160];
    snprintf(key, sizeof key, "in.%s", name);
    const int64_t *sh;
    int nd;
    if (!tensor(f->st, key, NULL, &sh, &nd) || nd != 4) return SM_NN_NONE;
    return sm_nn_input(f->net, name, (int)sh[1], (int)sh[2], (int)sh[3]);
}

static int batch_of(fx *f) {
    for (int i = 0; i < sm_nn_st_count(f->st); i++) {
        const int64_t *sh;
        const char *nm = sm_nn_st_tensor(f->st, i, NULL, NULL, &sh, NULL, NULL);
        if (strncmp(nm, "in.", 3) == 0) return (int)sh[0];
    }
    return 1;
}

static double compare(const float *a, const float *b, size_t n, double *scale) {
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        e = fmax(e, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    *scale = m;
    return e / fmax(m, 1e-6);
}

static sm_nn_t build(fx *f, const char *name) {
    sm_nn_net *net = f->net;
    if (strncmp(name, "conv2d_", 7) == 0) {
        sm_nn_t x = in(f, "x");
        int bias = sm_nn_st_find(f->st, "c.bias") >= 0;
        const int64_t *ws;
        tensor(f->st, "c.weight", NULL, &ws, NULL);
        int O = (int)ws[0], k = (int)ws[2];
        if (!strcmp(name, "conv2d_k3s2p1")) return sm_nn_conv2d(net, "c", x, O, k, 2, 1, 1, 1, bias);
        if (!strcmp(name, "conv2d_dil2_groups2")) return sm_nn_conv2d(net, "c", x, O, k, 1, 2, 2, 2, bias);
        if (!strcmp(name, "conv2d_depthwise_k5s2")) return sm_nn_conv2d(net, "c", x, O, k, 2, 2, 1, 4, bias);
        if (!strcmp(name, "conv2d_1x1")) return sm_nn_conv2d(net, "c", x, O, k, 1, 0, 1, 1, bias);
    }
    if (!strcmp(name, "conv_transpose2d_k3s2p1op1")) return sm_nn_conv_transpose2d(net, "c", in(f, "x"), 2, 3, 2, 1, 1, 1);
    if (!strcmp(name, "upsample_nearest2")) return sm_nn_upsample(net, in(f, "x"), 2, SM_NN_NEAREST);
    if (!strcmp(name, "upsample_bilinear3")) return sm_nn_upsample(net, in(f, "x"), 3, SM_NN_BILINEAR);
    if (!strncmp(name, "batchnorm", 9)) return sm_nn_batchnorm(net, "bn", in(f, "x"), 0.1f, 1e-5f);
    if (!strcmp(name, "groupnorm3")) return sm_nn_groupnorm(net, "gn", in(f, "x"), 3, 1e-5f);
    const char *acts[] = {"act_relu", "act_silu", "act_gelu", "act_sigmoid", "act_tanh"};
    for (int a = 0; a < 5; a++)
        if (!strcmp(name, acts[a])) return sm_nn_act(net, in(f, "x"), (enum sm_nn_act)a);
    if (!strcmp(name, "add")) {
        sm_nn_t a = in(f, "a"), b = in(f, "b");
        return sm_nn_add(net, a, b);
    }
    if (!strcmp(name, "mul") || !strcmp(name, "mul_broadcast")) {
        sm_nn_t a = in(f, "a"), b = in(f, "b");
        return sm_nn_mul(net, a, b);
    }
    if (!strcmp(name, "concat")) {
        sm_nn_t a = in(f, "a"), b = in(f, "b");
        return sm_nn_concat2(net, a, b);
    }
    if (!strcmp(name, "crop")) return sm_nn_crop(net, in(f, "x"), 1, 2, 4, 3);
    if (!strcmp(name, "avgpool_k3s2p1")) return sm_nn_pool(net, in(f, "x"), SM_NN_AVG, 3, 2, 1);
    if (!strcmp(name, "maxpool_k3s2p1")) return sm_nn_pool(net, in(f, "x"), SM_NN_MAX, 3, 2, 1);
    if (!strcmp(name, "global_avgpool")) return sm_nn_global_pool(net, in(f, "x"), SM_NN_AVG);
    if (!strcmp(name, "global_maxpool")) return sm_nn_global_pool(net, in(f, "x"), SM_NN_MAX);
    if (!strcmp(name, "linear")) return sm_nn_linear(net, "fc", in(f, "x"), 4, 1);
    if (!strcmp(name, "softmax")) return sm_nn_softmax(net, in(f, "x"));
    if (!strcmp(name, "attention_2heads")) {
        sm_nn_t q = in(f, "q"), k = in(f, "k"), v = in(f, "v");
        return sm_nn_attention(net, q, k, v, 2);
    }
    if (!strncmp(name, "loss_", 5)) {
        sm_nn_t z = in(f, "z"), t = in(f, "target");
        if (!strcmp(name, "loss_bce_posweight2")) return sm_nn_loss_bce(net, z, t, 2.0f);
        if (!strcmp(name, "loss_dice")) return sm_nn_loss_dice(net, z, t, 1.0f);
        if (!strcmp(name, "loss_focal")) return sm_nn_loss_focal(net, z, t, 0.25f, 2.0f);
        if (!strcmp(name, "loss_l1")) return sm_nn_loss_l1(net, z, t);
        if (!strcmp(name, "loss_l2")) return sm_nn_loss_l2(net, z, t);
    }
    if (!strcmp(name, "unet_small")) {   /* as make_fixtures.py: unet() */
        sm_nn_t frames = in(f, "frames"), prompt = in(f, "prompt"), mask_gt = in(f, "mask_gt"),
                iou_gt = in(f, "iou_gt");
        sm_nn_t x = sm_nn_concat2(net, frames, prompt);
        sm_nn_t e1 = sm_nn_conv_block(net, "enc1", x, 8);
        sm_nn_t e2 = sm_nn_conv_block(net, "enc2", sm_nn_pool(net, e1, SM_NN_MAX, 2, 2, 0), 16);
        sm_nn_t u = sm_nn_upsample(net, e2, 2, SM_NN_BILINEAR);
        sm_nn_t d1 = sm_nn_conv_block(net, "dec1", sm_nn_concat2(net, u, e1), 8);
        sm_nn_t logits = sm_nn_conv2d(net, "head", d1, 1, 1, 1, 0, 1, 1, 1);
        sm_nn_t iou = sm_nn_linear(net, "iou", sm_nn_global_pool(net, e2, SM_NN_AVG), 1, 1);
        sm_nn_t l = sm_nn_add(net, sm_nn_loss_bce(net, logits, mask_gt, 1.0f), sm_nn_loss_dice(net, logits, mask_gt, 1.0f));
        return sm_nn_add(net, l, sm_nn_scale(net, sm_nn_loss_l2(net, iou, iou_gt), 0.5f));
    }
    return SM_NN_NONE;
}

static void run_case(const char *name, const sm_nn_backend *be) {
    char path[512], label[256];
    snprintf(path, sizeof path, "tests/nn/fixtures/%s.safetensors", name);
    sm_error err = {0};
    fx f = {0};
    snprintf(label, sizeof label, "[%s] %s: fixture reads", be->name, name);
    if (sm_nn_st_read(path, &f.st, &err) < 0) {
        SM_CHECKF(label, 0, "%s", err.msg);
        return;
    }
    int has_r = sm_nn_st_find(f.st, "r") >= 0;
    f.net = sm_nn_create(1);
    sm_nn_set_backend(f.net, be);
    sm_nn_t y = build(&f, name), obj = y;
    sm_nn_t rin = SM_NN_NONE;
    if (has_r) {
        const int64_t *sh;
        tensor(f.st, "r", NULL, &sh, NULL);
        rin = sm_nn_input(f.net, "r", (int)sh[1], (int)sh[2], (int)sh[3]);
        obj = sm_nn_mul(f.net, y, rin);
    }
    int ok = sm_nn_compile(f.net, &err) == 0;
    int mode = !strcmp(name, "batchnorm_eval") ? SM_NN_EVAL_GRAD : SM_NN_TRAIN;
    sm_nn_ctx *c = ok ? sm_nn_ctx_create(f.net, batch_of(&f), mode, &err) : NULL;
    if (!c) {
        SM_CHECKF(label, 0, "%s", err.msg);
        goto done;
    }
    /* parameters and inputs from the fixture */
    for (int i = 0; i < sm_nn_param_count(f.net); i++) {
        float *d;
        const char *pn = sm_nn_param_info(f.net, i, &d, NULL, NULL, NULL);
        size_t n, want;
        const float *src = tensor(f.st, pn, &n, NULL, NULL);
        sm_nn_param(f.net, pn, &want);
        if (!src || n != want) {
            SM_CHECKF(label, 0, "parameter %s missing or of another size", pn);
            goto done;
        }
        memcpy(d, src, 4 * n);
    }
    for (int i = 0; i < f.net->n_nodes; i++) {
        if (f.net->nodes[i].op != OP_INPUT) continue;
        char key[160];
        snprintf(key, sizeof key, "%s%s", i == rin ? "" : "in.", f.net->nodes[i].name);
        size_t n;
        const float *src = tensor(f.st, key, &n, NULL, NULL);
        if (!src) {
            SM_CHECKF(label, 0, "input %s missing", key);
            goto done;
        }
        memcpy(sm_nn_ctx_data(c, i), src, 4 * n);
    }
    SM_CHECK(label, 1);
    sm_nn_ctx_input_grads(c, 1);
    sm_nn_zero_grad(f.net);
    sm_nn_forward(c, &err);
    sm_nn_backward(c, obj, &err);
    double worst = 0, scale;
    char where[200] = "";
    size_t n = 0;
    const float *ref = tensor(f.st, "out", &n, NULL, NULL);
    double e = compare(sm_nn_ctx_data(c, y), ref, n, &scale);
    if (e > worst) worst = e, snprintf(where, sizeof where, "out (scale %.3g)", scale);
    int compared = 1;
    for (int i = 0; i < sm_nn_st_count(f.st); i++) {
        const char *tn = sm_nn_st_tensor(f.st, i, NULL, NULL, NULL, NULL, NULL);
        const float *got = NULL;
        if (!strncmp(tn, "grad.in.", 8)) {
            sm_nn_t t = sm_nn_find_input(f.net, tn + 8);
            got = t >= 0 ? sm_nn_ctx_grad(c, t) : NULL;
        } else if (!strncmp(tn, "grad.", 5)) {
            for (int p = 0; p < sm_nn_param_count(f.net); p++) {
                float *g;
                const char *pn = sm_nn_param_info(f.net, p, NULL, &g, NULL, NULL);
                if (!strcmp(pn, tn + 5)) got = g;
            }
        } else if (!strncmp(tn, "after.", 6)) {
            got = sm_nn_param(f.net, tn + 6, NULL);
        } else {
            continue;
        }
        if (!got) {
            worst = INFINITY;
            snprintf(where, sizeof where, "%s not produced", tn);
            continue;
        }
        ref = tensor(f.st, tn, &n, NULL, NULL);
        e = compare(got, ref, n, &scale);
        compared++;
        if (e > worst) worst = e, snprintf(where, sizeof where, "%s (scale %.3g)", tn, scale);
    }
    snprintf(label, sizeof label, "[%s] %s: %d tensors match PyTorch within 1e-4 relative (worst %.1e)", be->name,
             name, compared, worst);
    SM_CHECKF(label, worst <= 1e-4, "worst %.3g at %s", worst, where);
done:
    sm_nn_ctx_destroy(c);
    sm_nn_destroy(f.net);
    sm_nn_st_destroy(f.st);
}

int main(void) {
    const char *cases[] = {"conv2d_k3s2p1", "conv2d_dil2_groups2", "conv2d_depthwise_k5s2", "conv2d_1x1",
                           "conv_transpose2d_k3s2p1op1", "upsample_nearest2", "upsample_bilinear3",
                           "batchnorm_train", "batchnorm_eval", "groupnorm3", "act_relu", "act_silu", "act_gelu",
                           "act_sigmoid", "act_tanh", "add", "mul", "mul_broadcast", "concat", "crop",
                           "avgpool_k3s2p1", "maxpool_k3s2p1", "global_avgpool", "global_maxpool", "linear",
                           "softmax", "attention_2heads", "loss_bce_posweight2", "loss_dice", "loss_focal",
                           "loss_l1", "loss_l2", "unet_small"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(cases[i], sm_nn_backend_cpu());
        run_case(cases[i], sm_nn_backend_ref());
    }
    return sm_test_report();
}
