/* conv2d through oneDNN 2.6 (libdnnl, C API): forward, backward-data and backward-weights primitives with the
 * memory layouts oneDNN chooses (blocked nChw16c/OIhw16i16o with AVX-512), and reorders between those and the
 * engine's plain NCHW/OIHW buffers around every call. bench/bench_nn.c measured this route at about twice the
 * im2col + sgemm route for 16 or more channels on our shapes (docs/nn.md), so the CPU backend uses it there.
 *
 * A plan holds one convolution geometry's primitives and scratch memories; the graph creates one per conv node
 * and context (so contexts on different threads never share a primitive) and frees it with the context.
 * Gradients are produced into plain scratch buffers and then added into the caller's, because the engine's
 * backward functions accumulate. Left out: groups, dilation and transposed convolutions (they stay on the sgemm
 * path), fusing the norm/activation that follows, keeping blocked layouts between layers. */
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops.h"

typedef struct port {
    dnnl_memory_t user;    /* plain layout, handle set per call */
    dnnl_memory_t inner;   /* primitive's layout, when it differs */
    dnnl_primitive_t re;   /* user -> inner (inputs) or inner -> user (outputs) */
} port;

struct sm_nn_dnnl_conv {
    dnnl_engine_t eng;
    dnnl_stream_t st;
    dnnl_primitive_t fwd, bwd_d, bwd_w;
    port f_src, f_w, f_b, f_dst;
    port d_ddst, d_w, d_dsrc;
    port w_src, w_ddst, w_dw, w_db;
    float *tmp_dx, *tmp_dw, *tmp_db;
    size_t nx, nw;
    int O, bias, train;
};

static int port_init(port *p, dnnl_engine_t eng, const dnnl_memory_desc_t *user_md,
                     const dnnl_memory_desc_t *inner_md, int out) {
    if (dnnl_memory_create(&p->user, user_md, eng, DNNL_MEMORY_NONE) != dnnl_success) return -1;
    if (!inner_md || dnnl_memory_desc_equal(user_md, inner_md)) return 0;
    if (dnnl_memory_create(&p->inner, inner_md, eng, DNNL_MEMORY_ALLOCATE) != dnnl_success) return -1;
    dnnl_primitive_desc_t pd;
    if (dnnl_reorder_primitive_desc_create(&pd, out ? inner_md : user_md, eng, out ? user_md : inner_md, eng,
                                           NULL) != dnnl_success)
        return -1;
    dnnl_status_t s = dnnl_primitive_create(&p->re, pd);
    dnnl_primitive_desc_destroy(pd);
    return s == dnnl_success ? 0 : -1;
}

static void port_free(port *p) {
    if (p->re) dnnl_primitive_destroy(p->re);
    if (p->inner) dnnl_memory_destroy(p->inner);
    if (p->user) dnnl_memory_destroy(p->user);
}

static dnnl_memory_t port_mem(const port *p) { return p->re ? p->inner : p->user; }

static int port_in(port *p, dnnl_stream_t st, const float *ptr) {
    if (dnnl_memory_set_data_handle(p->user, (void *)ptr) != dnnl_success) return -1;
    if (!p->re) return 0;
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, p->user}, {DNNL_ARG_TO, p->inner}};
    return dnnl_primitive_execute(p->re, st, 2, a) == dnnl_success ? 0 : -1;
}

static int port_out_bind(port *p, float *ptr) {
    return dnnl_memory_set_data_handle(p->user, ptr) == dnnl_success ? 0 : -1;
}

static int port_out(port *p, dnnl_stream_t st) {
    if (!p->re) return 0;
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, p->inner}, {DNNL_ARG_TO, p->user}};
    return dnnl_primitive_execute(p->re, st, 2, a) == dnnl_success ? 0 : -1;
}

void sm_nn_dnnl_conv_destroy(sm_nn_dnnl_conv *c) {
    if (!c) return;
    port *ports[] = {&c->f_src, &c->f_w, &c->f_b, &c->f_dst, &c->d_ddst, &c->d_w,
                     &c->d_dsrc, &c->w_src, &c->w_ddst, &c->w_dw, &c->w_db};
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) port_free(ports[i]);
    if (c->fwd) dnnl_primitive_destroy(c->fwd);
    if (c->bwd_d) dnnl_primitive_destroy(c->bwd_d);
    if (c->bwd_w) dnnl_primitive_destroy(c->bwd_w);
    if (c->st) dnnl_stream_destroy(c->st);
    if (c->eng) dnnl_engine_destroy(c->eng);
    free(c->tmp_dx);
    free(c->tmp_dw);
    free(c->tmp_db);
    free(c);
}

#define Q(pd, what, i) dnnl_primitive_desc_query_md(pd, what, i)

sm_nn_dnnl_conv *sm_nn_dnnl_conv_create(const sm_nn_conv *d, int bias, int train) {
    if (d->groups != 1 || d->dil != 1) return NULL;
    sm_nn_dnnl_conv *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    dnnl_primitive_desc_t pf = NULL, pd = NULL, pw = NULL;
    c->O = d->O;
    c->bias = bias;
    c->train = train;
    c->nx = (size_t)d->N * d->C * d->H * d->W;
    c->nw = (size_t)d->O * d->C * d->k * d->k;
    if (dnnl_engine_create(&c->eng, dnnl_cpu, 0) != dnnl_success) goto fail;
    if (dnnl_stream_create(&c->st, c->eng, dnnl_stream_default_flags) != dnnl_success) goto fail;
    dnnl_dims_t sd = {d->N, d->C, d->H, d->W}, wd = {d->O, d->C, d->k, d->k}, bd = {d->O},
                dd = {d->N, d->O, d->OH, d->OW};
    dnnl_dims_t strides = {d->stride, d->stride}, pad_l = {d->pad, d->pad};
    /* right padding so that the output size matches ours (floor division leaves some input unused) */
    dnnl_dims_t pad_r = {(d->OH - 1) * d->stride + d->k - d->H - d->pad, (d->OW - 1) * d->stride + d->k - d->W - d->pad};
    if (pad_r[0] < 0 || pad_r[1] < 0) goto fail;   /* left to the sgemm path */
    dnnl_memory_desc_t src_u, wei_u, bia_u, dst_u, src_a, wei_a, dst_a;
    dnnl_memory_desc_init_by_tag(&src_u, 4, sd, dnnl_f32, dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&wei_u, 4, wd, dnnl_f32, dnnl_oihw);
    dnnl_memory_desc_init_by_tag(&bia_u, 1, bd, dnnl_f32, dnnl_x);
    dnnl_memory_desc_init_by_tag(&dst_u, 4, dd, dnnl_f32, dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&src_a, 4, sd, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&wei_a, 4, wd, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dst_a, 4, dd, dnnl_f32, dnnl_format_tag_any);
    dnnl_convolution_desc_t cf, cd, cw;
    if (dnnl_convolution_forward_desc_init(&cf, train ? dnnl_forward_training : dnnl_forward_inference,
                                           dnnl_convolution_direct, &src_a, &wei_a, bias ? &bia_u : NULL, &dst_a,
                                           strides, pad_l, pad_r) != dnnl_success)
        goto fail;
    if (dnnl_primitive_desc_create(&pf, &cf, NULL, c->eng, NULL) != dnnl_success) goto fail;
    if (dnnl_primitive_create(&c->fwd, pf) != dnnl_success) goto fail;
    if (port_init(&c->f_src, c->eng, &src_u, Q(pf, dnnl_query_src_md, 0), 0) < 0) goto fail;
    if (port_init(&c->f_w, c->eng, &wei_u, Q(pf, dnnl_query_weights_md, 0), 0) < 0) goto fail;
    if (bias && port_init(&c->f_b, c->eng, &bia_u, Q(pf, dnnl_query_weights_md, 1), 0) < 0) goto fail;
    if (port_init(&c->f_dst, c->eng, &dst_u, Q(pf, dnnl_query_dst_md, 0), 1) < 0) goto fail;
    if (train) {
        if (dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &src_a, &wei_a, &dst_a, strides,
                                                     pad_l, pad_r) != dnnl_success)
            goto fail;
        if (dnnl_primitive_desc_create(&pd, &cd, NULL, c->eng, pf) != dnnl_success) goto fail;
        if (dnnl_primitive_create(&c->bwd_d, pd) != dnnl_success) goto fail;
        if (dnnl_convolution_backward_weights_desc_init(&cw, dnnl_convolution_direct, &src_a, &wei_a,
                                                        bias ? &bia_u : NULL, &dst_a, strides, pad_l,
                                                        pad_r) != dnnl_success)
            goto fail;
        if (dnnl_primitive_desc_create(&pw, &cw, NULL, c->eng, pf) != dnnl_success) goto fail;
        if (dnnl_primitive_create(&c->bwd_w, pw) != dnnl_success) goto fail;
        if (port_init(&c->d_ddst, c->eng, &dst_u, Q(pd, dnnl_query_diff_dst_md, 0), 0) < 0) goto fail;
        if (port_init(&c->d_w, c->eng, &wei_u, Q(pd, dnnl_query_weights_md, 0), 0) < 0) goto fail;
        if (port_init(&c->d_dsrc, c->eng, &src_u, Q(pd, dnnl_query_diff_src_md, 0), 1) < 0) goto fail;
        if (port_init(&c->w_src, c->eng, &src_u, Q(pw, dnnl_query_src_md, 0), 0) < 0) goto fail;
        if (port_init(&c->w_ddst, c->eng, &dst_u, Q(pw, dnnl_query_diff_dst_md, 0), 0) < 0) goto fail;
        if (port_init(&c->w_dw, c->eng, &wei_u, Q(pw, dnnl_query_diff_weights_md, 0), 1) < 0) goto fail;
        if (bias && port_init(&c->w_db, c->eng, &bia_u, Q(pw, dnnl_query_diff_weights_md, 1), 1) < 0) goto fail;
        c->tmp_dx = malloc(sizeof(float) * c->nx);
        c->tmp_dw = malloc(sizeof(float) * c->nw);
        c->tmp_db = malloc(sizeof(float) * (size_t)d->O);
        if (!c->tmp_dx || !c->tmp_dw || !c->tmp_db) goto fail;
    }
    dnnl_primitive_desc_destroy(pf);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (pw) dnnl_primitive_desc_destroy(pw);
    return c;
fail:
    if (pf) dnnl_primitive_desc_destroy(pf);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (pw) dnnl_primitive_desc_destroy(pw);
    sm_nn_dnnl_conv_destroy(c);
    return NULL;
}

int sm_nn_dnnl_conv_forward(sm_nn_dnnl_conv *c, float *y, const float *x, const float *w, const float *b) {
    if (port_in(&c->f_src, c->st, x) < 0 || port_in(&c->f_w, c->st, w) < 0) return -1;
    if (c->bias && port_in(&c->f_b, c->st, b) < 0) return -1;
    if (port_out_bind(&c->f_dst, y) < 0) return -1;
    dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, port_mem(&c->f_src)}, {DNNL_ARG_WEIGHTS, port_mem(&c->f_w)},
                            {DNNL_ARG_DST, port_mem(&c->f_dst)}, {DNNL_ARG_BIAS, c->bias ? port_mem(&c->f_b) : NULL}};
    if (dnnl_primitive_execute(c->fwd, c->st, c->bias ? 4 : 3, a) != dnnl_success) return -1;
    if (port_out(&c->f_dst, c->st) < 0) return -1;
    return dnnl_stream_wait(c->st) == dnnl_success ? 0 : -1;
}

static void add_into(float *dst, const float *src, size_t n) {
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

int sm_nn_dnnl_conv_backward(sm_nn_dnnl_conv *c, float *dx, float *dw, float *db, const float *dy, const float *x,
                             const float *w) {
    if (!c->train) return -1;
    if (dx) {
        if (port_in(&c->d_ddst, c->st, dy) < 0 || port_in(&c->d_w, c->st, w) < 0) return -1;
        if (port_out_bind(&c->d_dsrc, c->tmp_dx) < 0) return -1;
        dnnl_exec_arg_t a[3] = {{DNNL_ARG_DIFF_DST, port_mem(&c->d_ddst)}, {DNNL_ARG_WEIGHTS, port_mem(&c->d_w)},
                                {DNNL_ARG_DIFF_SRC, port_mem(&c->d_dsrc)}};
        if (dnnl_primitive_execute(c->bwd_d, c->st, 3, a) != dnnl_success) return -1;
        if (port_out(&c->d_dsrc, c->st) < 0) return -1;
    }
    if (dw || db) {
        if (port_in(&c->w_src, c->st, x) < 0 || port_in(&c->w_ddst, c->st, dy) < 0) return -1;
        if (port_out_bind(&c->w_dw, c->tmp_dw) < 0) return -1;
        if (c->bias && port_out_bind(&c->w_db, c->tmp_db) < 0) return -1;
        dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, port_mem(&c->w_src)}, {DNNL_ARG_DIFF_DST, port_mem(&c->w_ddst)},
                                {DNNL_ARG_DIFF_WEIGHTS, port_mem(&c->w_dw)},
                                {DNNL_ARG_DIFF_BIAS, c->bias ? port_mem(&c->w_db) : NULL}};
        if (dnnl_primitive_execute(c->bwd_w, c->st, c->bias ? 4 : 3, a) != dnnl_success) return -1;
        if (port_out(&c->w_dw, c->st) < 0) return -1;
        if (c->bias && port_out(&c->w_db, c->st) < 0) return -1;
    }
    if (dnnl_stream_wait(c->st) != dnnl_success) return -1;
    if (dx) add_into(dx, c->tmp_dx, c->nx);
    if (dw) add_into(dw, c->tmp_dw, c->nw);
    if (db && c->bias) add_into(db, c->tmp_db, (size_t)c->O);
    return 0;
}
