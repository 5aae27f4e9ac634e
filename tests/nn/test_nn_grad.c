/* Gradient checks for every nn op and loss: the analytic backward against central finite differences
 * (f(x+h) - f(x-h)) / 2h of the scalar f = sum(op(x) * r) with a fixed random r, on small random shapes with odd
 * sizes and strides, for inputs and parameters. Tolerance: relative L2 error of the sampled gradient entries
 * below 1e-2 (float32 forward, h = 1e-2; kinks of ReLU and max pooling hit now and then, which the L2 norm
 * absorbs). Also: the sgemm fast paths against the reference loops (1e-4 relative), repeatability from a seed,
 * builder errors, and the AdamW schedule against its closed form. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_impl.h"
#include "samem/nn.h"
#include "test.h"

static void fill(float *p, size_t n, sm_rng *r, double lo, double hi) {
    for (size_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * sm_rng_uniform(r));
}

static size_t tensor_n(sm_nn_net *net, sm_nn_ctx *c, sm_nn_t t) {
    int C, H, W;
    sm_nn_shape(net, t, &C, &H, &W);
    return (size_t)C * H * W * (net->nodes[t].batched ? (size_t)sm_nn_ctx_batch(c) : 1);
}

static double objective(sm_nn_ctx *c, sm_nn_t f) {
    sm_nn_ctx_seed(c, 7);
    sm_nn_forward(c, NULL);
    size_t n = tensor_n(c->net, c, f);
    const float *p = sm_nn_ctx_data(c, f);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += p[i];
    return s;
}

/* compares analytic and numeric gradients on up to 40 entries of buffer x (data) with gradient g */
static double check_buffer(sm_nn_ctx *c, sm_nn_t f, float *x, const float *g, size_t n, sm_rng *r, float h) {
    double num2 = 0, diff2 = 0;
    int m = n < 40 ? (int)n : 40;
    for (int s = 0; s < m; s++) {
        size_t i = n < 40 ? (size_t)s : sm_rng_below(r, n);
        float old = x[i];
        x[i] = old + h;
        double fp = objective(c, f);
        x[i] = old - h;
        double fm = objective(c, f);
        x[i] = old;
        double num = (fp - fm) / (2.0 * h);
        num2 += num * num;
        diff2 += (num - g[i]) * (num - g[i]);
    }
    return sqrt(diff2) / fmax(sqrt(num2), 1e-3);
}

/* Builds the objective sum(y * r) (or y itself for scalars), compiles, randomises parameters, and checks the
 * gradients of every input in `ins` and every parameter. */
static void grad_check(const char *name, sm_nn_net *net, sm_nn_t y, int n_in, const sm_nn_t *ins, int N, int mode,
                       float h) {
    sm_nn_t f = y;
    int C, H, W;
    sm_nn_shape(net, y, &C, &H, &W);
    sm_nn_t rin = SM_NN_NONE;
    if (y >= 0 && net->nodes[y].batched) {
        rin = sm_nn_input(net, "r_weights", C, H, W);
        f = sm_nn_mul(net, y, rin);
    }
    sm_error err = {0};
    if (sm_nn_compile(net, &err) < 0) {
        SM_CHECKF(name, 0, "compile: %s", err.msg);
        return;
    }
    sm_rng r;
    sm_rng_seed(&r, 1234);
    for (int i = 0; i < sm_nn_param_count(net); i++) {
        float *d;
        int nd;
        int64_t sh[4];
        const char *pn = sm_nn_param_info(net, i, &d, NULL, &nd, sh);
        size_t cnt = 1;
        for (int j = 0; j < nd; j++) cnt *= (size_t)sh[j];
        if (strstr(pn, "running_var")) fill(d, cnt, &r, 0.5, 2.0);
        else fill(d, cnt, &r, -1.0, 1.0);
    }
    sm_nn_ctx *c = sm_nn_ctx_create(net, N, mode, &err);
    if (!c) {
        SM_CHECKF(name, 0, "ctx: %s", err.msg);
        return;
    }
    for (int i = 0; i < net->n_nodes; i++)
        if (net->nodes[i].op == OP_INPUT) {
            int target = strstr(net->nodes[i].name, "target") != NULL;
            fill(sm_nn_ctx_data(c, i), tensor_n(net, c, i), &r, target ? 0.0 : -1.0, 1.0);
            if (target)   /* half hard labels, half soft */
                for (size_t j = 0; j < tensor_n(net, c, i); j += 2) sm_nn_ctx_data(c, i)[j] = j % 4 == 0;
        }
    sm_nn_ctx_input_grads(c, 1);
    sm_nn_zero_grad(net);
    sm_nn_ctx_seed(c, 7);
    sm_nn_forward(c, &err);
    sm_nn_backward(c, f, &err);
    double worst = 0;
    char where[160] = "";
    for (int k = 0; k < n_in; k++) {
        double e = check_buffer(c, f, sm_nn_ctx_data(c, ins[k]), sm_nn_ctx_grad(c, ins[k]),
                                tensor_n(net, c, ins[k]), &r, h);
        if (e > worst) {
            worst = e;
            snprintf(where, sizeof where, "input %s", net->nodes[ins[k]].name);
        }
    }
    for (int i = 0; i < sm_nn_param_count(net); i++) {
        float *d, *g;
        int nd;
        int64_t sh[4];
        const char *pn = sm_nn_param_info(net, i, &d, &g, &nd, sh);
        if (strstr(pn, "running_")) continue;
        size_t cnt = 1;
        for (int j = 0; j < nd; j++) cnt *= (size_t)sh[j];
        double e = check_buffer(c, f, d, g, cnt, &r, h);
        if (e > worst) {
            worst = e;
            snprintf(where, sizeof where, "param %s", pn);
        }
    }
    char label[200];
    snprintf(label, sizeof label, "grad %s: finite differences agree within 1e-2 (rel err %.1e)", name, worst);
    SM_CHECKF(label, worst < 1e-2, "rel L2 error %.3g at %s", worst, where);
    sm_nn_ctx_destroy(c);
}

#define NET() sm_nn_net *net = sm_nn_create(99)

static void check_convs(void) {
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 3, 9, 7);
        grad_check("conv2d k3 s2 p1", net, sm_nn_conv2d(net, "c", x, 5, 3, 2, 1, 1, 1, 1), 1, &x, 2, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 2, 11, 8);
        grad_check("conv2d k3 dilation 2", net, sm_nn_conv2d(net, "c", x, 3, 3, 1, 2, 2, 1, 1), 1, &x, 2, SM_NN_TRAIN,
                   1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 4, 7, 9);
        grad_check("conv2d groups 2", net, sm_nn_conv2d(net, "c", x, 6, 3, 1, 1, 1, 2, 1), 1, &x, 2, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 4, 9, 9);
        grad_check("conv2d depthwise k5 s2", net, sm_nn_conv2d(net, "c", x, 4, 5, 2, 2, 1, 4, 0), 1, &x, 2,
                   SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        setenv("SAMEM_NN_CONV", "dnnl", 1);   /* the oneDNN route, also below 16 channels */
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 3, 9, 7);
        grad_check("conv2d k3 s2 p1 (oneDNN route)", net, sm_nn_conv2d(net, "c", x, 5, 3, 2, 1, 1, 1, 1), 1, &x, 2,
                   SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
        unsetenv("SAMEM_NN_CONV");
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 3, 5, 6);
        grad_check("conv2d 1x1", net, sm_nn_conv2d(net, "c", x, 4, 1, 1, 0, 1, 1, 1), 1, &x, 3, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 3, 5, 4);
        grad_check("conv_transpose2d k3 s2 p1 op1", net, sm_nn_conv_transpose2d(net, "c", x, 2, 3, 2, 1, 1, 1), 1, &x,
                   2, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 2, 4, 5);
        grad_check("conv_transpose2d k2 s2", net, sm_nn_conv_transpose2d(net, "c", x, 3, 2, 2, 0, 0, 0), 1, &x, 2,
                   SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
}

static void check_others(void) {
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 2, 3, 5);
        grad_check("upsample nearest x2", net, sm_nn_upsample(net, x, 2, SM_NN_NEAREST), 1, &x, 2, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 2, 3, 5);
        grad_check("upsample bilinear x3", net, sm_nn_upsample(net, x, 3, SM_NN_BILINEAR), 1, &x, 2, SM_NN_TRAIN,
                   1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 3, 5, 3);
        grad_check("batchnorm train", net, sm_nn_batchnorm(net, "bn", x, 0.1f, 1e-5f), 1, &x, 3, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 3, 5, 3);
        grad_check("batchnorm eval", net, sm_nn_batchnorm(net, "bn", x, 0.1f, 1e-5f), 1, &x, 2, SM_NN_EVAL_GRAD,
                   1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 6, 3, 5);
        grad_check("groupnorm 3 groups", net, sm_nn_groupnorm(net, "gn", x, 3, 1e-5f), 1, &x, 2, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    const char *acts[] = {"relu", "silu", "gelu", "sigmoid", "tanh"};
    for (int a = 0; a < 5; a++) {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 3, 4, 5);
        char nm[64];
        snprintf(nm, sizeof nm, "act %s", acts[a]);
        grad_check(nm, net, sm_nn_act(net, x, (enum sm_nn_act)a), 1, &x, 2, SM_NN_TRAIN, a == 0 ? 1e-3f : 1e-2f);
        sm_nn_destroy(net);
    }
    for (int op = 0; op < 2; op++)
        for (int bc = 0; bc < 2; bc++) {
            NET();
            sm_nn_t x[2] = {sm_nn_input(net, "a", 3, 4, 5), sm_nn_input(net, "b", 3, bc ? 1 : 4, bc ? 1 : 5)};
            char nm[64];
            snprintf(nm, sizeof nm, "%s%s", op ? "mul" : "add", bc ? " broadcast" : "");
            grad_check(nm, net, op ? sm_nn_mul(net, x[0], x[1]) : sm_nn_add(net, x[0], x[1]), 2, x, 2, SM_NN_TRAIN,
                       1e-2f);
            sm_nn_destroy(net);
        }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 2, 3, 3);
        grad_check("scale", net, sm_nn_scale(net, x, -1.5f), 1, &x, 2, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x[3] = {sm_nn_input(net, "a", 1, 3, 5), sm_nn_input(net, "b", 3, 3, 5), sm_nn_input(net, "c", 2, 3, 5)};
        grad_check("concat 3", net, sm_nn_concat(net, 3, x), 3, x, 2, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 2, 7, 6);
        grad_check("crop", net, sm_nn_crop(net, x, 1, 2, 4, 3), 1, &x, 2, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 2, 7, 6);
        grad_check("avg pool k3 s2 p1", net, sm_nn_pool(net, x, SM_NN_AVG, 3, 2, 1), 1, &x, 2, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 2, 7, 6);
        grad_check("max pool k3 s2 p1", net, sm_nn_pool(net, x, SM_NN_MAX, 3, 2, 1), 1, &x, 2, SM_NN_TRAIN, 1e-3f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 2, 8, 6);
        grad_check("max pool k2 s2", net, sm_nn_pool(net, x, SM_NN_MAX, 2, 2, 0), 1, &x, 2, SM_NN_TRAIN, 1e-3f);
        sm_nn_destroy(net);
    }
    for (int k = 0; k < 2; k++) {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 3, 5, 3);
        grad_check(k ? "global max pool" : "global avg pool", net, sm_nn_global_pool(net, x, (enum sm_nn_pool_kind)k),
                   1, &x, 2, SM_NN_TRAIN, 1e-3f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 3, 2, 3);
        grad_check("linear", net, sm_nn_linear(net, "fc", x, 4, 1), 1, &x, 3, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 4, 3, 3);
        grad_check("softmax", net, sm_nn_softmax(net, x), 1, &x, 2, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x[3] = {sm_nn_input(net, "q", 4, 3, 3), sm_nn_input(net, "k", 4, 2, 3), sm_nn_input(net, "v", 4, 2, 3)};
        grad_check("attention 2 heads", net, sm_nn_attention(net, x[0], x[1], x[2], 2), 3, x, 2, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    {
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 3, 4, 5);
        grad_check("dropout p=0.3", net, sm_nn_dropout(net, x, 0.3f), 1, &x, 2, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
    const char *losses[] = {"bce pos_weight 2", "dice", "focal", "l1", "l2", "lovasz"};
    for (int l = 0; l < 6; l++) {
        NET();
        sm_nn_t z = sm_nn_input(net, "z", 2, 5, 3), t = sm_nn_input(net, "target", 2, 5, 3), y;
        switch (l) {
        case 0: y = sm_nn_loss_bce(net, z, t, 2.0f); break;
        case 1: y = sm_nn_loss_dice(net, z, t, 1.0f); break;
        case 2: y = sm_nn_loss_focal(net, z, t, 0.25f, 2.0f); break;
        case 3: y = sm_nn_loss_l1(net, z, t); break;
        case 4: y = sm_nn_loss_l2(net, z, t); break;
        default: y = sm_nn_loss_lovasz(net, z, t); break;
        }
        char nm[64];
        snprintf(nm, sizeof nm, "loss %s", losses[l]);
        /* l1 and the Lovasz hinge are piecewise linear: a small step keeps finite differences off their kinks */
        grad_check(nm, net, y, 1, &z, 3, SM_NN_TRAIN, l == 3 || l == 5 ? 1e-3f : 1e-2f);
        sm_nn_destroy(net);
    }
    {   /* a chain: conv -> gn -> silu -> pool -> upsample -> concat skip -> conv -> bce + 0.5 * dice */
        NET();
        sm_nn_t x = sm_nn_input(net, "x", 2, 8, 8), t = sm_nn_input(net, "target", 1, 8, 8);
        sm_nn_t e = sm_nn_conv_block(net, "enc", x, 4);
        sm_nn_t d = sm_nn_pool(net, e, SM_NN_AVG, 2, 2, 0);
        d = sm_nn_conv_block(net, "mid", d, 4);
        sm_nn_t u = sm_nn_upsample(net, d, 2, SM_NN_BILINEAR);
        sm_nn_t z = sm_nn_conv2d(net, "head", sm_nn_concat2(net, u, e), 1, 1, 1, 0, 1, 1, 1);
        sm_nn_t l = sm_nn_add(net, sm_nn_loss_bce(net, z, t, 1.0f), sm_nn_scale(net, sm_nn_loss_dice(net, z, t, 1), 0.5f));
        grad_check("small U-Net with two losses", net, l, 1, &x, 2, SM_NN_TRAIN, 1e-2f);
        sm_nn_destroy(net);
    }
}

static size_t pn_(int k, size_t yn, size_t xn, size_t wn, int O) { return k == 0 ? yn : k == 1 ? xn : k == 2 ? wn : (size_t)O; }
static float *pa_(int k, float *a, float *b, float *c, float *d) { return k == 0 ? a : k == 1 ? b : k == 2 ? c : d; }
static double m_(float *y, float *dx, float *dw, float *db, size_t yn, size_t xn, size_t wn, int O) {
    double m = 0;
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < pn_(k, yn, xn, wn, O); i++) m = fmax(m, fabs(pa_(k, y, dx, dw, db)[i]));
    return m;
}

/* sgemm and oneDNN paths against the reference loops on the same random data */
static void check_fast_vs_ref(void) {
    struct {
        int C, H, W, O, k, s, p, dil, g, transpose;
    } cases[] = {{3, 17, 13, 8, 3, 1, 1, 1, 1, 0},  {16, 20, 20, 32, 3, 2, 1, 1, 1, 0}, {8, 9, 9, 8, 3, 1, 2, 2, 4, 0},
                 {6, 10, 7, 6, 5, 1, 2, 1, 6, 0},   {8, 12, 12, 4, 1, 1, 0, 1, 1, 0},  {8, 6, 5, 4, 3, 2, 1, 1, 1, 1},
                 {4, 5, 5, 6, 2, 2, 0, 1, 1, 1}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        int N = 3;
        sm_nn_conv d = {N, cases[ci].C, cases[ci].H, cases[ci].W, cases[ci].O, 0, 0, cases[ci].k, cases[ci].s,
                        cases[ci].p, cases[ci].dil, cases[ci].g};
        size_t wn;
        if (!cases[ci].transpose) {
            d.OH = (d.H + 2 * d.pad - d.dil * (d.k - 1) - 1) / d.stride + 1;
            d.OW = (d.W + 2 * d.pad - d.dil * (d.k - 1) - 1) / d.stride + 1;
            wn = (size_t)d.O * (d.C / d.groups) * d.k * d.k;
        } else {
            d.OH = (d.H - 1) * d.stride - 2 * d.pad + d.k;
            d.OW = (d.W - 1) * d.stride - 2 * d.pad + d.k;
            wn = (size_t)d.C * d.O * d.k * d.k;
        }
        size_t xn = (size_t)N * d.C * d.H * d.W, yn = (size_t)N * d.O * d.OH * d.OW;
        float *x = malloc(4 * xn), *w = malloc(4 * wn), *b = malloc(4 * d.O), *dy = malloc(4 * yn);
        float *y1 = calloc(yn, 4), *y2 = calloc(yn, 4), *dx1 = calloc(xn, 4), *dx2 = calloc(xn, 4);
        float *dw1 = calloc(wn, 4), *dw2 = calloc(wn, 4), *db1 = calloc(d.O, 4), *db2 = calloc(d.O, 4);
        float *work = malloc(4 * sm_nn_conv_work_floats(&d));
        sm_rng r;
        sm_rng_seed(&r, ci);
        fill(x, xn, &r, -1, 1);
        fill(w, wn, &r, -1, 1);
        fill(b, d.O, &r, -1, 1);
        fill(dy, yn, &r, -1, 1);
        if (!cases[ci].transpose) {
            sm_nn_conv2d_forward_ref(y1, x, w, b, &d);
            sm_nn_conv2d_forward_gemm(y2, x, w, b, &d, work);
            sm_nn_conv2d_backward_ref(dx1, dw1, db1, dy, x, w, &d);
            sm_nn_conv2d_backward_gemm(dx2, dw2, db2, dy, x, w, &d, work);
        } else {
            sm_nn_convt2d_forward_ref(y1, x, w, b, &d);
            sm_nn_convt2d_forward_gemm(y2, x, w, b, &d, work);
            sm_nn_convt2d_backward_ref(dx1, dw1, db1, dy, x, w, &d);
            sm_nn_convt2d_backward_gemm(dx2, dw2, db2, dy, x, w, &d, work);
        }
        double e = 0, m = 0;
        float *pa[4] = {y1, dx1, dw1, db1}, *pb[4] = {y2, dx2, dw2, db2};
        size_t pn[4] = {yn, xn, wn, (size_t)d.O};
        for (int k = 0; k < 4; k++)
            for (size_t i = 0; i < pn[k]; i++) {
                e = fmax(e, fabs(pa[k][i] - pb[k][i]));
                m = fmax(m, fabs(pa[k][i]));
            }
        if (!cases[ci].transpose && d.groups == 1 && d.dil == 1) {   /* the oneDNN route on the same data */
            sm_nn_dnnl_conv *pl = sm_nn_dnnl_conv_create(&d, 1, 1);
            float *y3 = calloc(yn, 4), *dx3 = calloc(xn, 4), *dw3 = calloc(wn, 4), *db3 = calloc(d.O, 4);
            int rc = pl ? sm_nn_dnnl_conv_forward(pl, y3, x, w, b) : -1;
            if (rc == 0) rc = sm_nn_dnnl_conv_backward(pl, dx3, dw3, db3, dy, x, w);
            double e3 = 0;
            float *pc[4] = {y3, dx3, dw3, db3};
            for (int k = 0; k < 4; k++)
                for (size_t i = 0; i < pn_(k, yn, xn, wn, d.O); i++) e3 = fmax(e3, fabs(pa_(k, y1, dx1, dw1, db1)[i] - pc[k][i]));
            char nm3[160];
            snprintf(nm3, sizeof nm3, "conv2d C%d %dx%d O%d k%d s%d p%d: oneDNN route matches reference within 1e-4",
                     d.C, d.H, d.W, d.O, d.k, d.stride, d.pad);
            SM_CHECKF(nm3, rc == 0 && e3 <= 1e-4 * fmax(m_(y1, dx1, dw1, db1, yn, xn, wn, d.O), 1e-6), "rc %d, max diff %.3g", rc, e3);
            sm_nn_dnnl_conv_destroy(pl);
            free(y3); free(dx3); free(dw3); free(db3);
        }
        char nm[160];
        snprintf(nm, sizeof nm, "%s C%d %dx%d O%d k%d s%d p%d d%d g%d: sgemm path matches reference within 1e-4",
                 cases[ci].transpose ? "conv_transpose2d" : "conv2d", d.C, d.H, d.W, d.O, d.k, d.stride, d.pad, d.dil,
                 d.groups);
        SM_CHECKF(nm, e <= 1e-4 * m, "max diff %.3g of max %.3g", e, m);
        free(x); free(w); free(b); free(dy); free(y1); free(y2); free(dx1); free(dx2);
        free(dw1); free(dw2); free(db1); free(db2); free(work);
    }
}

static double train_few(uint64_t seed, float *out_first_param) {
    sm_nn_net *net = sm_nn_create(seed);
    sm_nn_t x = sm_nn_input(net, "x", 2, 8, 8), t = sm_nn_input(net, "target", 1, 8, 8);
    sm_nn_t y = sm_nn_conv_block(net, "b1", x, 8);
    y = sm_nn_dropout(net, y, 0.2f);
    sm_nn_t z = sm_nn_conv2d(net, "head", y, 1, 1, 1, 0, 1, 1, 1);
    sm_nn_t l = sm_nn_loss_bce(net, z, t, 1.0f);
    sm_error err = {0};
    sm_nn_compile(net, &err);
    sm_nn_ctx *c = sm_nn_ctx_create(net, 4, SM_NN_TRAIN, &err);
    sm_rng r;
    sm_rng_seed(&r, 5);
    sm_nn_adamw opt = sm_nn_adamw_default();
    opt.total_steps = 5;
    double last = 0;
    for (int s = 0; s < 5; s++) {
        fill(sm_nn_ctx_data(c, x), 4 * 2 * 64, &r, -1, 1);
        fill(sm_nn_ctx_data(c, t), 4 * 64, &r, 0, 1);
        sm_nn_zero_grad(net);
        sm_nn_forward(c, &err);
        last = sm_nn_ctx_data(c, l)[0];
        sm_nn_backward(c, l, &err);
        sm_nn_adamw_step(net, &opt, &err);
    }
    *out_first_param = sm_nn_param(net, "b1.conv.weight", NULL)[3];
    sm_nn_ctx_destroy(c);
    sm_nn_destroy(net);
    return last;
}

static void check_misc(void) {
    float p1, p2, p3;
    double a = train_few(11, &p1), b = train_few(11, &p2);
    train_few(12, &p3);
    SM_CHECKF("same seed, same loss and weights after 5 AdamW steps", a == b && p1 == p2, "%.9g %.9g", a, b);
    SM_CHECKF("another seed, other weights", p1 != p3, "%.9g %.9g", p1, p3);

    sm_nn_adamw o = sm_nn_adamw_default();
    o.lr = 1.0f;
    o.min_lr = 0.1f;
    o.warmup_steps = 10;
    o.total_steps = 110;
    double e = fabs(sm_nn_adamw_lr(&o, 0) - 0.1) + fabs(sm_nn_adamw_lr(&o, 9) - 1.0) +
               fabs(sm_nn_adamw_lr(&o, 60) - 0.55) + fabs(sm_nn_adamw_lr(&o, 110) - 0.1) +
               fabs(sm_nn_adamw_lr(&o, 35) - (0.1 + 0.9 * 0.5 * (1 + cos(M_PI * 0.25))));
    SM_CHECKF("warm-up and cosine schedule match the closed form", e < 1e-5, "sum of errors %.3g", e);

    /* one AdamW step against a hand computation: p=1, g=0.5, lr 0.1, wd 0.1 -> p*(1-0.01) - 0.1*1 */
    sm_nn_net *net = sm_nn_create(1);
    sm_nn_t x = sm_nn_input(net, "x", 1, 1, 1);
    sm_nn_linear(net, "fc", x, 1, 0);
    sm_error err = {0};
    sm_nn_compile(net, &err);
    float *w, *g;
    sm_nn_param_info(net, 0, &w, &g, NULL, NULL);
    w[0] = 1.0f;
    g[0] = 0.5f;
    o = sm_nn_adamw_default();
    o.lr = 0.1f;
    o.weight_decay = 0.1f;
    sm_nn_adamw_step(net, &o, &err);
    SM_CHECKF("AdamW first step: decoupled decay then lr * sign", fabs(w[0] - (0.99 - 0.1)) < 1e-6, "w=%.9g", w[0]);
    g[0] = 30.0f;
    o.clip_norm = 1.0f;
    sm_nn_adamw_step(net, &o, &err);
    SM_CHECKF("AdamW reports the gradient norm before clipping", fabs(o.last_grad_norm - 30.0) < 1e-4, "%g",
              o.last_grad_norm);
    sm_nn_destroy(net);

    net = sm_nn_create(1);
    x = sm_nn_input(net, "x", 3, 8, 8);
    sm_nn_t y = sm_nn_conv2d(net, "c", x, 4, 3, 1, 1, 1, 2, 1);
    y = sm_nn_act(net, y, SM_NN_RELU);
    int rc = sm_nn_compile(net, &err);
    SM_CHECKF("builder error surfaces at compile with the layer name", rc == SM_EINVAL && strstr(err.msg, "conv2d c"),
              "rc %d: %s", rc, err.msg);
    sm_nn_destroy(net);

    net = sm_nn_create(1);
    x = sm_nn_input(net, "x", 3, 8, 8);
    sm_nn_conv2d(net, "c", x, 4, 3, 1, 1, 1, 1, 1);
    sm_nn_conv2d(net, "c", x, 4, 3, 1, 1, 1, 1, 1);
    rc = sm_nn_compile(net, &err);
    SM_CHECKF("a parameter name used twice is refused", rc == SM_EINVAL && strstr(err.msg, "c.weight"), "%s", err.msg);
    sm_nn_destroy(net);
    sm_nn_destroy(NULL);
    sm_nn_ctx_destroy(NULL);
}

/* several inference contexts of one net run forward at once on different inputs (one per OpenMP thread) and
 * give exactly what one context gives serially */
static void check_parallel_contexts(void) {
    sm_nn_net *net = sm_nn_create(5);
    sm_nn_t x = sm_nn_input(net, "x", 2, 24, 24);
    sm_nn_t y = sm_nn_conv_block(net, "a", x, 16);
    y = sm_nn_conv_block(net, "b", sm_nn_pool(net, y, SM_NN_MAX, 2, 2, 0), 32);
    y = sm_nn_upsample(net, y, 2, SM_NN_BILINEAR);
    y = sm_nn_conv2d(net, "head", y, 1, 1, 1, 0, 1, 1, 1);
    sm_error err = {0};
    sm_nn_compile(net, &err);
    enum { K = 6 };
    sm_nn_ctx *serial = sm_nn_ctx_create(net, 1, SM_NN_INFER, &err), *cs[K];
    SM_CHECK("inference contexts have no gradient buffers", sm_nn_ctx_grad(serial, y) == NULL &&
                                                                sm_nn_backward(serial, y, &err) == SM_EINVAL);
    float ref[K][576];
    sm_rng r;
    sm_rng_seed(&r, 3);
    float inputs[K][2 * 576];
    for (int k = 0; k < K; k++) {
        fill(inputs[k], 2 * 576, &r, -1, 1);
        memcpy(sm_nn_ctx_data(serial, x), inputs[k], sizeof inputs[k]);
        sm_nn_forward(serial, &err);
        memcpy(ref[k], sm_nn_ctx_data(serial, y), sizeof ref[k]);
        cs[k] = sm_nn_ctx_create(net, 1, SM_NN_INFER, &err);
        memcpy(sm_nn_ctx_data(cs[k], x), inputs[k], sizeof inputs[k]);
    }
    int bad = 0;
#pragma omp parallel for num_threads(3) reduction(+ : bad)
    for (int k = 0; k < K; k++) {
        for (int rep = 0; rep < 3; rep++) {
            sm_error e = {0};
            sm_nn_forward(cs[k], &e);
            bad += memcmp(sm_nn_ctx_data(cs[k], y), ref[k], sizeof ref[k]) != 0;
        }
    }
    SM_CHECKF("6 contexts on 3 threads match the serial results bit for bit", bad == 0, "%d mismatches", bad);
    for (int k = 0; k < K; k++) sm_nn_ctx_destroy(cs[k]);
    sm_nn_ctx_destroy(serial);
    sm_nn_destroy(net);
}

/* initialisation statistics, dropout off in inference, copy_params across spatial sizes */
static void check_init_and_modes(void) {
    sm_error err = {0};
    sm_nn_net *net = sm_nn_create(8);
    sm_nn_t x = sm_nn_input(net, "x", 32, 8, 8);
    sm_nn_conv2d(net, "kaiming", x, 64, 3, 1, 1, 1, 1, 1);   /* fan_in 288 */
    sm_nn_set_init(net, SM_NN_INIT_XAVIER);
    sm_nn_conv2d(net, "xavier", x, 64, 3, 1, 1, 1, 1, 0);    /* fan_in 288, fan_out 576 */
    sm_nn_set_init(net, SM_NN_INIT_TORCH);
    sm_nn_conv2d(net, "torch", x, 64, 3, 1, 1, 1, 1, 1);
    sm_nn_compile(net, &err);
    size_t n;
    const float *w = sm_nn_param(net, "kaiming.weight", &n);
    double ss = 0, mean = 0;
    for (size_t i = 0; i < n; i++) ss += (double)w[i] * w[i], mean += w[i];
    double sd = sqrt(ss / n), want = sqrt(2.0 / 288);
    SM_CHECKF("Kaiming init: std sqrt(2/fan_in) within 3%, mean 0", fabs(sd / want - 1) < 0.03 && fabs(mean / n) < 0.003,
              "std %.4f want %.4f mean %.4g", sd, want, mean / n);
    const float *b = sm_nn_param(net, "kaiming.bias", &n);
    int zeros = 1;
    for (size_t i = 0; i < n; i++) zeros &= b[i] == 0;
    SM_CHECK("Kaiming: biases start at 0", zeros);
    w = sm_nn_param(net, "xavier.weight", &n);
    double lim = sqrt(6.0 / (288 + 576)), mx = 0;
    ss = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(w[i])), ss += (double)w[i] * w[i];
    SM_CHECKF("Xavier init: uniform within +-sqrt(6/(fan_in+fan_out)), variance lim^2/3 within 3%",
              mx <= lim && fabs(ss / n / (lim * lim / 3) - 1) < 0.03, "max %.4f lim %.4f", mx, lim);
    w = sm_nn_param(net, "torch.bias", &n);
    mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(w[i]));
    SM_CHECKF("PyTorch default init: bias within +-1/sqrt(fan_in), not all zero", mx <= 1 / sqrt(288.0) && mx > 0,
              "max %.4f", mx);
    sm_nn_destroy(net);

    net = sm_nn_create(8);
    x = sm_nn_input(net, "x", 3, 6, 6);
    sm_nn_t y = sm_nn_dropout(net, sm_nn_conv2d(net, "c", x, 4, 3, 1, 1, 1, 1, 1), 0.5f);
    sm_nn_compile(net, &err);
    sm_nn_net *big = sm_nn_create(99);
    sm_nn_t xb = sm_nn_input(big, "x", 3, 10, 10);
    sm_nn_t yb = sm_nn_conv2d(big, "c", xb, 4, 3, 1, 1, 1, 1, 1);
    sm_nn_compile(big, &err);
    int rc = sm_nn_copy_params(big, net, &err);
    sm_nn_ctx *ci = sm_nn_ctx_create(net, 1, SM_NN_INFER, &err), *cb = sm_nn_ctx_create(big, 1, SM_NN_INFER, &err);
    sm_rng r;
    sm_rng_seed(&r, 2);
    fill(sm_nn_ctx_data(cb, xb), 300, &r, -1, 1);
    for (int c = 0; c < 3; c++)   /* the small input is the big one's top-left 6x6 */
        for (int i = 0; i < 6; i++)
            memcpy(sm_nn_ctx_data(ci, x) + (c * 6 + i) * 6, sm_nn_ctx_data(cb, xb) + (c * 10 + i) * 10, 24);
    sm_nn_forward(ci, &err);
    sm_nn_forward(cb, &err);
    /* interior outputs (away from the 6x6 border) agree: same weights, dropout off in inference */
    double e = 0;
    for (int o = 0; o < 4; o++)
        for (int i = 1; i < 5; i++)
            for (int j = 1; j < 5; j++)
                e = fmax(e, fabs(sm_nn_ctx_data(ci, y)[(o * 6 + i) * 6 + j] - sm_nn_ctx_data(cb, yb)[(o * 10 + i) * 10 + j]));
    SM_CHECKF("copy_params to a net for another input size; dropout is identity in inference", rc == 0 && e < 1e-5,
              "rc %d, max diff %.3g", rc, e);
    sm_nn_ctx_destroy(ci);
    sm_nn_ctx_destroy(cb);
    sm_nn_destroy(big);
    sm_nn_destroy(net);
}

/* The Lovasz hinge at logits z = s (1 - m) (hinge errors exactly m in {0, 1}) equals the Jaccard loss of the
 * prediction that gets the pixels with m = 1 wrong: 1 - |P and T| / |P or T|, counted here directly. */
static void check_lovasz_value(void) {
    sm_nn_net *net = sm_nn_create(1);
    sm_nn_t z = sm_nn_input(net, "z", 1, 6, 7), t = sm_nn_input(net, "target", 1, 6, 7);
    sm_nn_t y = sm_nn_loss_lovasz(net, z, t);
    sm_error err = {0};
    sm_nn_compile(net, &err);
    sm_nn_ctx *c = sm_nn_ctx_create(net, 3, SM_NN_INFER, &err);
    sm_rng r;
    sm_rng_seed(&r, 5);
    double want = 0, worst = 0;
    float *zd = sm_nn_ctx_data(c, z), *td = sm_nn_ctx_data(c, t);
    for (int n = 0; n < 3; n++) {
        int inter = 0, uni = 0;
        for (int i = 0; i < 42; i++) {
            int on = sm_rng_uniform(&r) < (n == 2 ? 0.0 : 0.4), wrong = sm_rng_uniform(&r) < 0.2 * (n + 1);
            td[n * 42 + i] = (float)on;
            zd[n * 42 + i] = (on ? 1.0f : -1.0f) * (wrong ? 0.0f : 1.0f);
            int pred = on != wrong;
            inter += pred && on, uni += pred || on;
        }
        want += uni ? 1.0 - (double)inter / uni : 0.0;
    }
    want /= 3;
    sm_nn_forward(c, &err);
    worst = fabs(sm_nn_ctx_data(c, y)[0] - want);
    SM_CHECKF("lovasz hinge at 0/1 errors = the Jaccard loss of that prediction (3 samples, one without target)",
              worst < 1e-5, "got %.6f, want %.6f", sm_nn_ctx_data(c, y)[0], want);
    sm_nn_ctx_destroy(c);
    sm_nn_destroy(net);
}

int main(void) {
    check_init_and_modes();
    check_lovasz_value();
    check_parallel_contexts();
    check_convs();
    check_others();
    check_fast_vs_ref();
    check_misc();
    return sm_test_report();
}
