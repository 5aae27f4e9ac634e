/* nn engine benchmark: 3x3 conv2d forward + backward throughput (GFLOP/s) on samem's layer shapes (8-128
 * channels, 16-128 px crops, batch 1-16) through each route, beside OpenBLAS sgemm measured in the same run, and
 * training throughput of two reference networks (samples/s).
 *
 * Routes: "sgemm" = samem's im2col + cblas_sgemm path (src/nn/ops_fast.c, what the CPU backend runs);
 * "dnnl-any" = oneDNN 2.6 convolution primitives (forward_training, backward_data, backward_weights) with the
 * layouts oneDNN picks itself (blocked nChw16c etc.; reorders from and to NCHW NOT counted: its best case);
 * "dnnl-nchw" = the same primitives forced onto plain NCHW/OIHW buffers, as the engine holds its tensors.
 * sgemm peak: cblas_sgemm 1024^3; sgemm same-gemm: the conv's own gemm shapes (O x OH*OW x C*9, one per image)
 * without im2col. FLOPs of forward + backward = 3 x 2*N*O*OH*OW*C*k*k.
 *
 * Usage: bench_nn OUT.md   (writes its markdown section there; prints progress on stderr) */
#include <cblas.h>
#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops.h"
#include "samem/nn.h"

/* the bench is a program: it may set the libraries' global thread counts (OpenMP, which oneDNN follows, and
 * OpenBLAS's pthreads) */
static void set_threads(int n) {
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

/* ---------------------------------------------------------------- timing */

typedef void (*work_fn)(void *);

/* best seconds per call over 5 rounds of enough calls to fill 0.2 s */
static double time_best(work_fn f, void *arg) {
    f(arg);   /* warm-up */
    double t0 = sm_now();
    int reps = 0;
    while (sm_now() - t0 < 0.05 || reps < 1) {
        f(arg);
        reps++;
    }
    double per = (sm_now() - t0) / reps;
    int n = (int)(0.2 / per) + 1;
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t = sm_now();
        for (int i = 0; i < n; i++) f(arg);
        t = (sm_now() - t) / n;
        if (t < best) best = t;
    }
    return best;
}

static float *randbuf(size_t n, sm_rng *r) {
    float *p = aligned_alloc(64, (n * 4 + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++) p[i] = (float)(sm_rng_uniform(r) * 2 - 1);
    return p;
}

/* ---------------------------------------------------------------- sgemm */

typedef struct gemm_arg {
    int M, N, K, reps;
    float *a, *b, *c;
} gemm_arg;

static void run_gemm(void *p) {
    gemm_arg *g = p;
    for (int i = 0; i < g->reps; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->M, g->N, g->K, 1.0f, g->a, g->K, g->b, g->N, 0.0f,
                    g->c, g->N);
}

static double gemm_gflops(int M, int N, int K, int reps, sm_rng *r) {
    gemm_arg g = {M, N, K, reps, randbuf((size_t)M * K, r), randbuf((size_t)K * N, r), randbuf((size_t)M * N, r)};
    double t = time_best(run_gemm, &g);
    free(g.a); free(g.b); free(g.c);
    return 2.0 * M * N * K * reps / t * 1e-9;
}

/* ---------------------------------------------------------------- samem sgemm route */

typedef struct conv_arg {
    sm_nn_conv d;
    float *x, *w, *b, *y, *dy, *dx, *dw, *db, *work;
} conv_arg;

static void run_sgemm_conv(void *p) {
    conv_arg *a = p;
    sm_nn_conv2d_forward_gemm(a->y, a->x, a->w, a->b, &a->d, a->work);
    memset(a->dx, 0, sizeof(float) * (size_t)a->d.N * a->d.C * a->d.H * a->d.W);
    sm_nn_conv2d_backward_gemm(a->dx, a->dw, a->db, a->dy, a->x, a->w, &a->d, a->work);
}

/* ---------------------------------------------------------------- samem's oneDNN route (reorders included) */

typedef struct plan_arg {
    conv_arg *a;
    sm_nn_dnnl_conv *plan;
} plan_arg;

static void run_plan_conv(void *p) {
    plan_arg *q = p;
    conv_arg *a = q->a;
    sm_nn_dnnl_conv_forward(q->plan, a->y, a->x, a->w, a->b);
    memset(a->dx, 0, sizeof(float) * (size_t)a->d.N * a->d.C * a->d.H * a->d.W);
    sm_nn_dnnl_conv_backward(q->plan, a->dx, a->dw, a->db, a->dy, a->x, a->w);
}

/* ---------------------------------------------------------------- oneDNN primitives alone */

typedef struct dnnl_run {
    dnnl_engine_t eng;
    dnnl_stream_t st;
    dnnl_primitive_t fwd, bwd_d, bwd_w;
    dnnl_memory_t m[16];
    int n_m;
    dnnl_exec_arg_t af[4], ad[3], aw[4];
    int ok;
} dnnl_run;

static dnnl_memory_t mem_for(dnnl_run *r, const dnnl_memory_desc_t *md) {
    dnnl_memory_t m = NULL;
    if (dnnl_memory_create(&m, md, r->eng, DNNL_MEMORY_ALLOCATE) != dnnl_success) return NULL;
    void *h = NULL;
    dnnl_memory_get_data_handle(m, &h);
    if (h) memset(h, 0, dnnl_memory_desc_get_size(md));
    r->m[r->n_m++] = m;
    return m;
}

static int dnnl_setup(dnnl_run *r, const sm_nn_conv *d, int any) {
    memset(r, 0, sizeof *r);
    if (dnnl_engine_create(&r->eng, dnnl_cpu, 0) != dnnl_success) return 0;
    if (dnnl_stream_create(&r->st, r->eng, dnnl_stream_default_flags) != dnnl_success) return 0;
    dnnl_dims_t sd = {d->N, d->C, d->H, d->W}, wd = {d->O, d->C, d->k, d->k}, bd = {d->O},
                dd = {d->N, d->O, d->OH, d->OW};
    dnnl_dims_t strides = {d->stride, d->stride}, pad = {d->pad, d->pad};
    dnnl_memory_desc_t src, wei, bia, dst;
    dnnl_memory_desc_init_by_tag(&src, 4, sd, dnnl_f32, any ? dnnl_format_tag_any : dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&wei, 4, wd, dnnl_f32, any ? dnnl_format_tag_any : dnnl_oihw);
    dnnl_memory_desc_init_by_tag(&bia, 1, bd, dnnl_f32, dnnl_x);
    dnnl_memory_desc_init_by_tag(&dst, 4, dd, dnnl_f32, any ? dnnl_format_tag_any : dnnl_nchw);
    dnnl_convolution_desc_t cf, cd, cw;
    if (dnnl_convolution_forward_desc_init(&cf, dnnl_forward_training, dnnl_convolution_direct, &src, &wei, &bia,
                                           &dst, strides, pad, pad) != dnnl_success)
        return 0;
    dnnl_primitive_desc_t pf, pd, pw;
    if (dnnl_primitive_desc_create(&pf, &cf, NULL, r->eng, NULL) != dnnl_success) return 0;
    dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &src, &wei, &dst, strides, pad, pad);
    if (dnnl_primitive_desc_create(&pd, &cd, NULL, r->eng, pf) != dnnl_success) return 0;
    dnnl_convolution_backward_weights_desc_init(&cw, dnnl_convolution_direct, &src, &wei, &bia, &dst, strides, pad,
                                                pad);
    if (dnnl_primitive_desc_create(&pw, &cw, NULL, r->eng, pf) != dnnl_success) return 0;
    dnnl_primitive_create(&r->fwd, pf);
    dnnl_primitive_create(&r->bwd_d, pd);
    dnnl_primitive_create(&r->bwd_w, pw);
    /* each primitive's own chosen layouts; with "any" these can differ between primitives, and a real engine
     * would reorder between them: not counted here (best case) */
    dnnl_memory_t fs = mem_for(r, dnnl_primitive_desc_query_md(pf, dnnl_query_src_md, 0));
    dnnl_memory_t fw = mem_for(r, dnnl_primitive_desc_query_md(pf, dnnl_query_weights_md, 0));
    dnnl_memory_t fb = mem_for(r, dnnl_primitive_desc_query_md(pf, dnnl_query_weights_md, 1));
    dnnl_memory_t fd = mem_for(r, dnnl_primitive_desc_query_md(pf, dnnl_query_dst_md, 0));
    r->af[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, fs};
    r->af[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, fw};
    r->af[2] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, fb};
    r->af[3] = (dnnl_exec_arg_t){DNNL_ARG_DST, fd};
    r->ad[0] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC, mem_for(r, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_src_md, 0))};
    r->ad[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, mem_for(r, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0))};
    r->ad[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, mem_for(r, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0))};
    r->aw[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, mem_for(r, dnnl_primitive_desc_query_md(pw, dnnl_query_src_md, 0))};
    r->aw[1] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_WEIGHTS, mem_for(r, dnnl_primitive_desc_query_md(pw, dnnl_query_diff_weights_md, 0))};
    r->aw[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_BIAS, mem_for(r, dnnl_primitive_desc_query_md(pw, dnnl_query_diff_weights_md, 1))};
    r->aw[3] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, mem_for(r, dnnl_primitive_desc_query_md(pw, dnnl_query_diff_dst_md, 0))};
    dnnl_primitive_desc_destroy(pf);
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_desc_destroy(pw);
    r->ok = 1;
    return 1;
}

static void dnnl_teardown(dnnl_run *r) {
    if (r->fwd) dnnl_primitive_destroy(r->fwd);
    if (r->bwd_d) dnnl_primitive_destroy(r->bwd_d);
    if (r->bwd_w) dnnl_primitive_destroy(r->bwd_w);
    for (int i = 0; i < r->n_m; i++) dnnl_memory_destroy(r->m[i]);
    if (r->st) dnnl_stream_destroy(r->st);
    if (r->eng) dnnl_engine_destroy(r->eng);
}

static void run_dnnl_conv(void *p) {
    dnnl_run *r = p;
    int bad = dnnl_primitive_execute(r->fwd, r->st, 4, r->af) != dnnl_success;
    bad |= dnnl_primitive_execute(r->bwd_d, r->st, 3, r->ad) != dnnl_success;
    bad |= dnnl_primitive_execute(r->bwd_w, r->st, 4, r->aw) != dnnl_success;
    bad |= dnnl_stream_wait(r->st) != dnnl_success;
    if (bad) r->ok = 0;
}

/* ---------------------------------------------------------------- networks */

typedef struct train_arg {
    sm_nn_net *net;
    sm_nn_ctx *ctx;
    sm_nn_t loss;
    sm_nn_adamw opt;
} train_arg;

static void run_train_step(void *p) {
    train_arg *a = p;
    sm_nn_zero_grad(a->net);
    sm_nn_forward(a->ctx, NULL);
    sm_nn_backward(a->ctx, a->loss, NULL);
    sm_nn_adamw_step(a->net, &a->opt, NULL);
}

static void run_infer(void *p) {
    train_arg *a = p;
    sm_nn_forward(a->ctx, NULL);
}

/* 0: the noisy-disk U-Net of tests/nn/test_nn_train.c (1x32x32, 8/16 channels);
 * 1: the example of include/samem/nn.h (3 frames + prompt, 64x64, 16/32 channels, IoU head) */
static sm_nn_net *build_net(int which, sm_nn_t *loss, sm_nn_t *ins, int *n_ins) {
    sm_nn_net *net = sm_nn_create(1);
    if (which == 0) {
        sm_nn_t img = sm_nn_input(net, "image", 1, 32, 32), mask = sm_nn_input(net, "mask", 1, 32, 32);
        sm_nn_t e1 = sm_nn_conv_block(net, "enc1b", sm_nn_conv_block(net, "enc1", img, 8), 8);
        sm_nn_t e2 = sm_nn_pool(net, e1, SM_NN_MAX, 2, 2, 0);
        e2 = sm_nn_conv_block(net, "enc2b", sm_nn_conv_block(net, "enc2", e2, 16), 16);
        sm_nn_t d = sm_nn_conv_block(net, "dec1", sm_nn_concat2(net, sm_nn_upsample(net, e2, 2, SM_NN_BILINEAR), e1), 8);
        sm_nn_t z = sm_nn_conv2d(net, "head", d, 1, 1, 1, 0, 1, 1, 1);
        *loss = sm_nn_add(net, sm_nn_loss_bce(net, z, mask, 1.0f), sm_nn_loss_dice(net, z, mask, 1.0f));
        ins[0] = img;
        ins[1] = mask;
        *n_ins = 2;
    } else {
        sm_nn_t frames = sm_nn_input(net, "frames", 3, 64, 64), prompt = sm_nn_input(net, "prompt", 1, 64, 64);
        sm_nn_t e1 = sm_nn_conv_block(net, "enc1", sm_nn_concat2(net, frames, prompt), 16);
        sm_nn_t e2 = sm_nn_conv_block(net, "enc2", sm_nn_pool(net, e1, SM_NN_MAX, 2, 2, 0), 32);
        sm_nn_t u = sm_nn_upsample(net, e2, 2, SM_NN_BILINEAR);
        sm_nn_t y = sm_nn_conv_block(net, "dec1", sm_nn_concat2(net, u, e1), 16);
        sm_nn_t logits = sm_nn_conv2d(net, "head", y, 1, 1, 1, 0, 1, 1, 1);
        sm_nn_t iou = sm_nn_linear(net, "iou_head", sm_nn_global_pool(net, e2, SM_NN_AVG), 1, 1);
        sm_nn_t mask_gt = sm_nn_input(net, "mask_gt", 1, 64, 64), iou_gt = sm_nn_input(net, "iou_gt", 1, 1, 1);
        sm_nn_t l = sm_nn_add(net, sm_nn_loss_bce(net, logits, mask_gt, 1.0f), sm_nn_loss_dice(net, logits, mask_gt, 1.0f));
        *loss = sm_nn_add(net, l, sm_nn_scale(net, sm_nn_loss_l2(net, iou, iou_gt), 0.5f));
        ins[0] = frames;
        ins[1] = prompt;
        ins[2] = mask_gt;
        ins[3] = iou_gt;
        *n_ins = 4;
    }
    sm_error err = {0};
    if (sm_nn_compile(net, &err) < 0) {
        fprintf(stderr, "bench_nn: %s\n", err.msg);
        exit(1);
    }
    return net;
}

static void net_throughput(FILE *md, int which, int batch, const char *route, sm_rng *r) {
    sm_nn_t loss, ins[4];
    int n_ins;
    sm_nn_net *net = build_net(which, &loss, ins, &n_ins);
    sm_error err = {0};
    train_arg a = {net, sm_nn_ctx_create(net, batch, SM_NN_TRAIN, &err), loss, sm_nn_adamw_default()};
    for (int i = 0; i < n_ins; i++) {
        int C, H, W;
        sm_nn_shape(net, ins[i], &C, &H, &W);
        float *p = sm_nn_ctx_data(a.ctx, ins[i]);
        for (size_t j = 0; j < (size_t)batch * C * H * W; j++) p[j] = (float)sm_rng_uniform(r);
    }
    double t = time_best(run_train_step, &a);
    sm_nn_ctx *inf = sm_nn_ctx_create(net, 1, SM_NN_INFER, &err);
    train_arg b = a;
    b.ctx = inf;
    double ti = time_best(run_infer, &b);
    fprintf(md, "| %s | %s | %zu | %d | %.0f | %.2f |\n",
            which == 0 ? "noisy-disk U-Net (1x32x32, 8/16 ch; tests/nn/test_nn_train.c)"
                       : "nn.h example U-Net (4x64x64, 16/32 ch, IoU head)",
            route, sm_nn_param_total(net), batch, batch / t, ti * 1e3);
    fprintf(stderr, "net %d (%s) batch %d: %.0f samples/s train, %.2f ms inference (batch 1)\n", which, route, batch,
            batch / t, ti * 1e3);
    sm_nn_ctx_destroy(a.ctx);
    sm_nn_ctx_destroy(inf);
    sm_nn_destroy(net);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: bench_nn OUT.md\n");
        return 1;
    }
    FILE *md = fopen(argv[1], "w");
    if (!md) {
        perror(argv[1]);
        return 2;
    }
    sm_rng r;
    sm_rng_seed(&r, 1);
    double peak = gemm_gflops(1024, 1024, 1024, 1, &r);
    fprintf(stderr, "sgemm 1024^3: %.1f GFLOP/s\n", peak);
    double load[3] = {0};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
        fclose(la);
    }
    fprintf(md, "## nn engine (bench/bench_nn.c)\n\n");
    fprintf(md, "Command: `build/bench/bench_nn bench/results/bench_nn.md` (or `make bench`). Each part runs with 1 "
                "thread and with all %d (OpenMP, oneDNN and OpenBLAS together). 1-minute load average at start "
                "%.2f: other jobs share this machine, so single-thread rows are the steadier ones.\n\n",
            omp_get_max_threads(), load[0]);
    fprintf(md, "OpenBLAS sgemm 1024x1024x1024 at start, all threads: **%.1f GFLOP/s** (the reference for the target "
                "\"3x3 convolutions with 32 or more channels at 60%% of sgemm\").\n\n", peak);
    fprintf(md, "### conv2d 3x3 stride 1 pad 1, forward + backward (data and weights), GFLOP/s\n\n");
    fprintf(md, "Each row's %% is relative to a 1024^3 sgemm timed just before that row (the machine is shared).\n\n");
    fprintf(md, "| threads | N | C -> O | H x W | samem sgemm route | %% of sgemm | samem oneDNN route (with reorders) | "
                "%% of sgemm | same gemms, no im2col | dnnl-nchw | dnnl-any (no reorders) | sgemm 1024^3 |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    struct {
        int N, C, O, H;
    } shapes[] = {{8, 8, 8, 64},   {8, 16, 16, 64}, {8, 32, 32, 32},  {16, 32, 32, 32}, {1, 32, 32, 64},
                  {8, 64, 64, 32}, {4, 64, 64, 64}, {16, 128, 128, 16}, {4, 32, 32, 128}};
    int max_threads = omp_get_max_threads(), thread_list[2] = {1, max_threads};
    int n_threads = max_threads > 1 ? 2 : 1;
    for (int ti = 0; ti < n_threads; ti++)
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        set_threads(thread_list[ti]);
        sm_nn_conv d = {shapes[i].N, shapes[i].C, shapes[i].H, shapes[i].H, shapes[i].O, shapes[i].H, shapes[i].H,
                        3, 1, 1, 1, 1};
        double flops = 3.0 * 2.0 * d.N * d.O * d.OH * d.OW * d.C * 9;
        size_t xn = (size_t)d.N * d.C * d.H * d.W, yn = (size_t)d.N * d.O * d.OH * d.OW, wn = (size_t)d.O * d.C * 9;
        conv_arg a = {d, randbuf(xn, &r), randbuf(wn, &r), randbuf(d.O, &r), randbuf(yn, &r), randbuf(yn, &r),
                      randbuf(xn, &r), randbuf(wn, &r), randbuf(d.O, &r), randbuf(sm_nn_conv_work_floats(&d), &r)};
        double ts = time_best(run_sgemm_conv, &a);
        /* the same gemms without im2col: forward (O x P x K), dW (O x K x P), dcol (K x P x O), per image */
        double g = gemm_gflops(d.O, d.OH * d.OW, d.C * 9, d.N, &r);
        double dn[2] = {0, 0};
        for (int any = 0; any < 2; any++) {
            dnnl_run dr;
            if (dnnl_setup(&dr, &d, any)) {
                double t = time_best(run_dnnl_conv, &dr);
                dn[any] = dr.ok ? flops / t * 1e-9 : -1;
            }
            dnnl_teardown(&dr);
        }
        double row_peak = gemm_gflops(1024, 1024, 1024, 1, &r);   /* beside each row: the load drifts */
        double gs = flops / ts * 1e-9, gp = 0;
        plan_arg pa = {&a, sm_nn_dnnl_conv_create(&d, 1, 1)};
        if (pa.plan) gp = flops / time_best(run_plan_conv, &pa) * 1e-9;
        sm_nn_dnnl_conv_destroy(pa.plan);
        fprintf(md, "| %d | %d | %d -> %d | %d x %d | %.1f | %.0f%% | %.1f | %.0f%% | %.1f | %.1f | %.1f | %.1f |\n",
                thread_list[ti], d.N, d.C, d.O, d.H, d.W, gs, 100 * gs / row_peak, gp, 100 * gp / row_peak, g, dn[0], dn[1], row_peak);
        fprintf(stderr, "conv N%d %d->%d %dx%d: sgemm %.1f (%.0f%%), samem-dnnl %.1f (%.0f%%), gemm-only %.1f, "
                "dnnl-nchw %.1f, dnnl-any %.1f, sgemm peak %.1f\n", d.N, d.C, d.O, d.H, d.W, gs, 100 * gs / row_peak, gp,
                100 * gp / row_peak, g, dn[0], dn[1], row_peak);
        free(a.x); free(a.w); free(a.b); free(a.y); free(a.dy); free(a.dx); free(a.dw); free(a.db); free(a.work);
    }
    fprintf(md, "\n### training throughput (forward + backward + AdamW step)\n\n");
    fprintf(md, "| threads | network | conv route | parameters | batch | samples/s | inference batch 1 (ms) |\n"
                "|---|---|---|---|---|---|---|\n");
    const char *routes[] = {"sgemm", "auto"};
    for (int ti = 0; ti < n_threads; ti++)
    for (int n = 0; n < 2; n++)
        for (int k = 0; k < 2; k++) {
            set_threads(thread_list[ti]);
            fprintf(md, "| %d ", thread_list[ti]);
            if (k == 0) setenv("SAMEM_NN_CONV", "sgemm", 1);
            else unsetenv("SAMEM_NN_CONV");
            net_throughput(md, n, n == 0 ? 16 : 8, routes[k], &r);
        }
    fprintf(md, "\n");
    fclose(md);
    return 0;
}
