/* The nn graph: builder calls (shape inference and parameter declaration), compile (one parameter buffer, one
 * gradient buffer, initialisation from the seed), contexts (one activation buffer, one activation-gradient
 * buffer and one saved-state buffer per batch size, allocated once), and forward/backward, which walk the
 * nodes in build order and in reverse and call the backend table (src/nn/backend_impl.h).
 *
 * A net is a list of nodes in topological order by construction (a node can only use earlier handles).
 * Left out: memory reuse between activations whose lifetimes do not overlap (all are kept for backward),
 * in-place ops, graph rewriting. Initialisation: He et al. 2015 (Kaiming), Glorot and Bengio 2010 (Xavier). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_impl.h"

/* ---------------------------------------------------------------- builder helpers */

sm_nn_net *sm_nn_create(uint64_t seed) {
    sm_nn_net *net = calloc(1, sizeof *net);
    if (!net) return NULL;
    net->seed = seed;
    net->init = SM_NN_INIT_KAIMING;
    net->be = sm_nn_backend_cpu();
    return net;
}

void sm_nn_destroy(sm_nn_net *net) {
    if (!net) return;
    free(net->nodes);
    free(net->ps);
    if (net->params) net->be->free(net->params);
    if (net->grads) net->be->free(net->grads);
    if (net->adam_m) net->be->free(net->adam_m);
    if (net->adam_v) net->be->free(net->adam_v);
    free(net);
}

void sm_nn_set_backend(sm_nn_net *net, const sm_nn_backend *be) { net->be = be; }
void sm_nn_set_init(sm_nn_net *net, enum sm_nn_init init) { net->init = init; }

static sm_nn_t fail(sm_nn_net *net, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static sm_nn_t fail(sm_nn_net *net, const char *fmt, ...) {
    if (net->err.code == 0) {
        va_list ap;
        va_start(ap, fmt);
        char buf[sizeof net->err.msg];
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        sm_error_set(&net->err, SM_EINVAL, "%s", buf);
    }
    return SM_NN_NONE;
}

static int valid(sm_nn_net *net, sm_nn_t t) {
    if (net->compiled) {
        fail(net, "builder call after sm_nn_compile");
        return 0;
    }
    if (t < 0 || t >= net->n_nodes) {
        if (t != SM_NN_NONE) fail(net, "bad tensor handle %d", (int)t);
        return 0;
    }
    return 1;
}

static sm_nn_node *add_node(sm_nn_net *net, int op, const char *name, int n_in, const sm_nn_t *in, int C, int H,
                            int W) {
    if (net->err.code) return NULL;
    if (net->compiled) {
        fail(net, "builder call after sm_nn_compile");
        return NULL;
    }
    if (C <= 0 || H <= 0 || W <= 0) {
        fail(net, "%s: output shape (%d,%d,%d) is empty", name && *name ? name : "op", C, H, W);
        return NULL;
    }
    if ((int64_t)C * H * W > (1LL << 31) - 1) {
        fail(net, "%s: output of %d x %d x %d is too large", name && *name ? name : "op", C, H, W);
        return NULL;
    }
    if (net->n_nodes == net->cap_nodes) {
        int cap = net->cap_nodes ? net->cap_nodes * 2 : 32;
        sm_nn_node *p = realloc(net->nodes, sizeof *p * cap);
        if (!p) {
            fail(net, "out of memory");
            return NULL;
        }
        net->nodes = p;
        net->cap_nodes = cap;
    }
    sm_nn_node *nd = &net->nodes[net->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    nd->n_in = n_in;
    for (int i = 0; i < n_in; i++) nd->in[i] = in[i];
    nd->C = C;
    nd->H = H;
    nd->W = W;
    nd->batched = 1;
    nd->p_w = nd->p_b = nd->p_rm = nd->p_rv = -1;
    if (name) snprintf(nd->name, sizeof nd->name, "%s", name);
    net->n_nodes++;
    return nd;
}

static sm_nn_t handle(sm_nn_net *net, sm_nn_node *nd) { return nd ? (sm_nn_t)(nd - net->nodes) : SM_NN_NONE; }

/* Declares a parameter "<layer>.<suffix>"; returns its index or -1 after recording an error. */
static int add_param(sm_nn_net *net, const char *layer, const char *suffix, int ndim, const int64_t *shape,
                     int trainable, int decay, int init, int fan_in, int fan_out) {
    if (!layer || !*layer) {
        fail(net, "a layer with parameters needs a name");
        return -1;
    }
    char name[SM_NN_NAME];
    if ((size_t)snprintf(name, sizeof name, "%s.%s", layer, suffix) >= sizeof name) {
        fail(net, "%s: name too long", layer);
        return -1;
    }
    for (int i = 0; i < net->n_params; i++)
        if (strcmp(net->ps[i].name, name) == 0) {
            fail(net, "%s: parameter name used twice", name);
            return -1;
        }
    if (net->n_params == net->cap_params) {
        int cap = net->cap_params ? net->cap_params * 2 : 32;
        nn_param *p = realloc(net->ps, sizeof *p * cap);
        if (!p) {
            fail(net, "out of memory");
            return -1;
        }
        net->ps = p;
        net->cap_params = cap;
    }
    nn_param *p = &net->ps[net->n_params];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->n = 1;
    for (int i = 0; i < 4; i++) p->shape[i] = i < ndim ? shape[i] : 1;
    for (int i = 0; i < ndim; i++) p->n *= (size_t)shape[i];
    p->trainable = trainable;
    p->decay = decay;
    p->init = init;
    p->fan_in = fan_in;
    p->fan_out = fan_out;
    return net->n_params++;
}

/* ---------------------------------------------------------------- builder */

sm_nn_t sm_nn_input(sm_nn_net *net, const char *name, int c, int h, int w) {
    if (!name || !*name) return fail(net, "input needs a name");
    if (sm_nn_find_input(net, name) != SM_NN_NONE) return fail(net, "input %s declared twice", name);
    return handle(net, add_node(net, OP_INPUT, name, 0, NULL, c, h, w));
}

sm_nn_t sm_nn_find_input(const sm_nn_net *net, const char *name) {
    for (int i = 0; i < net->n_nodes; i++)
        if (net->nodes[i].op == OP_INPUT && strcmp(net->nodes[i].name, name) == 0) return i;
    return SM_NN_NONE;
}

sm_nn_t sm_nn_conv2d(sm_nn_net *net, const char *name, sm_nn_t x, int out_c, int k, int stride, int pad,
                     int dilation, int groups, int bias) {
    if (!valid(net, x)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[x];
    const char *nm = name ? name : "conv2d";
    if (!a->batched) return fail(net, "conv2d %s: input is a scalar", nm);
    if (k < 1 || stride < 1 || pad < 0 || dilation < 1 || groups < 1 || out_c < 1)
        return fail(net, "conv2d %s: bad kernel %d, stride %d, pad %d, dilation %d, groups %d or out_c %d", nm, k,
                    stride, pad, dilation, groups, out_c);
    if (a->C % groups || out_c % groups)
        return fail(net, "conv2d %s: groups %d does not divide in %d / out %d channels", nm, groups, a->C, out_c);
    int OH = (a->H + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
    int OW = (a->W + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
    if (a->H + 2 * pad < dilation * (k - 1) + 1 || a->W + 2 * pad < dilation * (k - 1) + 1)
        return fail(net, "conv2d %s: kernel larger than the padded %dx%d input", nm, a->H, a->W);
    int C = a->C;
    sm_nn_node *nd = add_node(net, OP_CONV, nm, 1, &x, out_c, OH, OW);
    if (!nd) return SM_NN_NONE;
    nd->ip[0] = k;
    nd->ip[1] = stride;
    nd->ip[2] = pad;
    nd->ip[3] = dilation;
    nd->ip[4] = groups;
    int64_t ws[4] = {out_c, C / groups, k, k};
    int fan_in = C / groups * k * k, fan_out = out_c / groups * k * k;
    nd->p_w = add_param(net, nm, "weight", 4, ws, 1, 1, net->init, fan_in, fan_out);
    if (bias) {
        int64_t bs[1] = {out_c};
        nd->p_b = add_param(net, nm, "bias", 1, bs, 1, 0, net->init == SM_NN_INIT_TORCH ? SM_NN_INIT_TORCH : -1,
                            fan_in, fan_out);
    }
    return net->err.code ? SM_NN_NONE : handle(net, nd);
}

sm_nn_t sm_nn_conv_transpose2d(sm_nn_net *net, const char *name, sm_nn_t x, int out_c, int k, int stride,
                               int pad, int out_pad, int bias) {
    if (!valid(net, x)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[x];
    const char *nm = name ? name : "conv_transpose2d";
    if (!a->batched) return fail(net, "conv_transpose2d %s: input is a scalar", nm);
    if (k < 1 || stride < 1 || pad < 0 || out_pad < 0 || out_pad >= stride || out_c < 1)
        return fail(net, "conv_transpose2d %s: bad kernel %d, stride %d, pad %d, out_pad %d or out_c %d", nm, k,
                    stride, pad, out_pad, out_c);
    int OH = (a->H - 1) * stride - 2 * pad + k + out_pad, OW = (a->W - 1) * stride - 2 * pad + k + out_pad;
    int C = a->C;
    sm_nn_node *nd = add_node(net, OP_CONVT, nm, 1, &x, out_c, OH, OW);
    if (!nd) return SM_NN_NONE;
    nd->ip[0] = k;
    nd->ip[1] = stride;
    nd->ip[2] = pad;
    nd->ip[3] = out_pad;
    int64_t ws[4] = {C, out_c, k, k};
    nd->p_w = add_param(net, nm, "weight", 4, ws, 1, 1, net->init, out_c * k * k, C * k * k);
    if (bias) {
        int64_t bs[1] = {out_c};
        nd->p_b = add_param(net, nm, "bias", 1, bs, 1, 0, net->init == SM_NN_INIT_TORCH ? SM_NN_INIT_TORCH : -1,
                            out_c * k * k, C * k * k);
    }
    return net->err.code ? SM_NN_NONE : handle(net, nd);
}

sm_nn_t sm_nn_upsample(sm_nn_net *net, sm_nn_t x, int scale, enum sm_nn_upsample_mode mode) {
    if (!valid(net, x)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[x];
    if (!a->batched || scale < 1 || scale > 64 || (mode != SM_NN_NEAREST && mode != SM_NN_BILINEAR))
        return fail(net, "upsample: bad input, scale %d or mode %d", scale, (int)mode);
    sm_nn_node *nd = add_node(net, OP_UPSAMPLE, "upsample", 1, &x, a->C, a->H * scale, a->W * scale);
    if (!nd) return SM_NN_NONE;
    nd->ip[0] = scale;
    nd->ip[1] = mode;
    return handle(net, nd);
}

sm_nn_t sm_nn_batchnorm(sm_nn_net *net, const char *name, sm_nn_t x, float momentum, float eps) {
    if (!valid(net, x)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[x];
    const char *nm = name ? name : "batchnorm";
    if (!a->batched || !(eps > 0) || !(momentum >= 0 && momentum <= 1))
        return fail(net, "batchnorm %s: bad input, eps %g or momentum %g", nm, eps, momentum);
    int C = a->C;
    sm_nn_node *nd = add_node(net, OP_BN, nm, 1, &x, a->C, a->H, a->W);
    if (!nd) return SM_NN_NONE;
    nd->fp[0] = momentum;
    nd->fp[1] = eps;
    nd->aux_fixed = 2 * (size_t)C;
    int64_t s[1] = {C};
    nd->p_w = add_param(net, nm, "weight", 1, s, 1, 0, -2, C, C);
    nd->p_b = add_param(net, nm, "bias", 1, s, 1, 0, -1, C, C);
    nd->p_rm = add_param(net, nm, "running_mean", 1, s, 0, 0, -1, C, C);
    nd->p_rv = add_param(net, nm, "running_var", 1, s, 0, 0, -2, C, C);
    return net->err.code ? SM_NN_NONE : handle(net, nd);
}

sm_nn_t sm_nn_groupnorm(sm_nn_net *net, const char *name, sm_nn_t x, int groups, float eps) {
    if (!valid(net, x)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[x];
    const char *nm = name ? name : "groupnorm";
    if (!a->batched || groups < 1 || a->C % groups || !(eps > 0))
        return fail(net, "groupnorm %s: %d groups do not divide %d channels (or bad eps %g)", nm, groups, a->C, eps);
    int C = a->C;
    sm_nn_node *nd = add_node(net, OP_GN, nm, 1, &x, a->C, a->H, a->W);
    if (!nd) return SM_NN_NONE;
    nd->ip[0] = groups;
    nd->fp[0] = eps;
    nd->aux_per_n = 2 * (size_t)groups;
    int64_t s[1] = {C};
    nd->p_w = add_param(net, nm, "weight", 1, s, 1, 0, -2, C, C);
    nd->p_b = add_param(net, nm, "bias", 1, s, 1, 0, -1, C, C);
    return net->err.code ? SM_NN_NONE : handle(net, nd);
}

sm_nn_t sm_nn_act(sm_nn_net *net, sm_nn_t x, enum sm_nn_act act) {
    if (!valid(net, x)) return SM_NN_NONE;
    if ((int)act < 0 || act > SM_NN_IDENTITY) return fail(net, "act: unknown activation %d", (int)act);
    const sm_nn_node *a = &net->nodes[x];
    int batched = a->batched;
    sm_nn_node *nd = add_node(net, OP_ACT, "act", 1, &x, a->C, a->H, a->W);
    if (!nd) return SM_NN_NONE;
    nd->batched = batched;
    nd->ip[0] = act;
    return handle(net, nd);
}

static sm_nn_t binary(sm_nn_net *net, int op, sm_nn_t a, sm_nn_t b) {
    if (!valid(net, a) || !valid(net, b)) return SM_NN_NONE;
    const sm_nn_node *x = &net->nodes[a], *y = &net->nodes[b];
    const char *nm = op == OP_ADD ? "add" : "mul";
    if (x->batched != y->batched || x->C != y->C || !((y->H == x->H && y->W == x->W) || (y->H == 1 && y->W == 1)))
        return fail(net, "%s: shapes (%d,%d,%d) and (%d,%d,%d) do not match", nm, x->C, x->H, x->W, y->C, y->H, y->W);
    int batched = x->batched;
    sm_nn_t in[2] = {a, b};
    sm_nn_node *nd = add_node(net, op, nm, 2, in, x->C, x->H, x->W);
    if (!nd) return SM_NN_NONE;
    nd->batched = batched;
    return handle(net, nd);
}

sm_nn_t sm_nn_add(sm_nn_net *net, sm_nn_t a, sm_nn_t b) { return binary(net, OP_ADD, a, b); }
sm_nn_t sm_nn_mul(sm_nn_net *net, sm_nn_t a, sm_nn_t b) { return binary(net, OP_MUL, a, b); }

sm_nn_t sm_nn_scale(sm_nn_net *net, sm_nn_t x, float s) {
    if (!valid(net, x)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[x];
    int batched = a->batched;
    sm_nn_node *nd = add_node(net, OP_SCALE, "scale", 1, &x, a->C, a->H, a->W);
    if (!nd) return SM_NN_NONE;
    nd->batched = batched;
    nd->fp[0] = s;
    return handle(net, nd);
}

sm_nn_t sm_nn_concat(sm_nn_net *net, int n, const sm_nn_t *xs) {
    if (n < 1 || n > SM_NN_MAX_IN) return fail(net, "concat: %d inputs (1 to %d allowed)", n, SM_NN_MAX_IN);
    int C = 0;
    for (int i = 0; i < n; i++) {
        if (!valid(net, xs[i])) return SM_NN_NONE;
        const sm_nn_node *a = &net->nodes[xs[i]], *f = &net->nodes[xs[0]];
        if (!a->batched || a->H != f->H || a->W != f->W)
            return fail(net, "concat: input %d is %dx%d, input 0 is %dx%d", i, a->H, a->W, f->H, f->W);
        C += a->C;
    }
    const sm_nn_node *f = &net->nodes[xs[0]];
    return handle(net, add_node(net, OP_CONCAT, "concat", n, xs, C, f->H, f->W));
}

sm_nn_t sm_nn_concat2(sm_nn_net *net, sm_nn_t a, sm_nn_t b) {
    sm_nn_t xs[2] = {a, b};
    return sm_nn_concat(net, 2, xs);
}

sm_nn_t sm_nn_crop(sm_nn_net *net, sm_nn_t x, int top, int left, int h, int w) {
    if (!valid(net, x)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[x];
    if (!a->batched || top < 0 || left < 0 || h < 1 || w < 1 || top + h > a->H || left + w > a->W)
        return fail(net, "crop: window (%d,%d)+%dx%d outside %dx%d", top, left, h, w, a->H, a->W);
    sm_nn_node *nd = add_node(net, OP_CROP, "crop", 1, &x, a->C, h, w);
    if (!nd) return SM_NN_NONE;
    nd->ip[0] = top;
    nd->ip[1] = left;
    return handle(net, nd);
}

sm_nn_t sm_nn_pool(sm_nn_net *net, sm_nn_t x, enum sm_nn_pool_kind kind, int k, int stride, int pad) {
    if (!valid(net, x)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[x];
    if (!a->batched || k < 1 || stride < 1 || pad < 0 || 2 * pad > k || a->H + 2 * pad < k || a->W + 2 * pad < k ||
        (kind != SM_NN_AVG && kind != SM_NN_MAX))
        return fail(net, "pool: bad kernel %d, stride %d or pad %d for %dx%d", k, stride, pad, a->H, a->W);
    int OH = (a->H + 2 * pad - k) / stride + 1, OW = (a->W + 2 * pad - k) / stride + 1;
    sm_nn_node *nd = add_node(net, OP_POOL, "pool", 1, &x, a->C, OH, OW);
    if (!nd) return SM_NN_NONE;
    nd->ip[0] = kind;
    nd->ip[1] = k;
    nd->ip[2] = stride;
    nd->ip[3] = pad;
    if (kind == SM_NN_MAX) nd->aux_per_n = (size_t)nd->C * OH * OW;
    return handle(net, nd);
}

sm_nn_t sm_nn_global_pool(sm_nn_net *net, sm_nn_t x, enum sm_nn_pool_kind kind) {
    if (!valid(net, x)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[x];
    if (!a->batched || (kind != SM_NN_AVG && kind != SM_NN_MAX)) return fail(net, "global_pool: bad input or kind");
    sm_nn_node *nd = add_node(net, OP_GPOOL, "global_pool", 1, &x, a->C, 1, 1);
    if (!nd) return SM_NN_NONE;
    nd->ip[0] = kind;
    if (kind == SM_NN_MAX) nd->aux_per_n = (size_t)nd->C;
    return handle(net, nd);
}

sm_nn_t sm_nn_linear(sm_nn_net *net, const char *name, sm_nn_t x, int out, int bias) {
    if (!valid(net, x)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[x];
    const char *nm = name ? name : "linear";
    if (!a->batched || out < 1) return fail(net, "linear %s: bad input or %d outputs", nm, out);
    int I = a->C * a->H * a->W;
    sm_nn_node *nd = add_node(net, OP_LINEAR, nm, 1, &x, out, 1, 1);
    if (!nd) return SM_NN_NONE;
    int64_t ws[2] = {out, I};
    nd->p_w = add_param(net, nm, "weight", 2, ws, 1, 1, net->init, I, out);
    if (bias) {
        int64_t bs[1] = {out};
        nd->p_b = add_param(net, nm, "bias", 1, bs, 1, 0, net->init == SM_NN_INIT_TORCH ? SM_NN_INIT_TORCH : -1, I,
                            out);
    }
    return net->err.code ? SM_NN_NONE : handle(net, nd);
}

sm_nn_t sm_nn_softmax(sm_nn_net *net, sm_nn_t x) {
    if (!valid(net, x)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[x];
    if (!a->batched) return fail(net, "softmax: input is a scalar");
    return handle(net, add_node(net, OP_SOFTMAX, "softmax", 1, &x, a->C, a->H, a->W));
}

sm_nn_t sm_nn_attention(sm_nn_net *net, sm_nn_t q, sm_nn_t k, sm_nn_t v, int heads) {
    if (!valid(net, q) || !valid(net, k) || !valid(net, v)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[q], *b = &net->nodes[k], *c = &net->nodes[v];
    if (!a->batched || !b->batched || !c->batched || heads < 1 || a->C % heads || b->C != a->C || c->C != a->C ||
        b->H != c->H || b->W != c->W)
        return fail(net, "attention: q (%d,%d,%d), k (%d,%d,%d), v (%d,%d,%d) with %d heads do not fit", a->C, a->H,
                    a->W, b->C, b->H, b->W, c->C, c->H, c->W, heads);
    size_t Tq = (size_t)a->H * a->W, Tk = (size_t)b->H * b->W;
    sm_nn_t in[3] = {q, k, v};
    sm_nn_node *nd = add_node(net, OP_ATTN, "attention", 3, in, a->C, a->H, a->W);
    if (!nd) return SM_NN_NONE;
    nd->ip[0] = heads;
    nd->aux_per_n = (size_t)heads * Tq * Tk;
    return handle(net, nd);
}

sm_nn_t sm_nn_dropout(sm_nn_net *net, sm_nn_t x, float p) {
    if (!valid(net, x)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[x];
    if (!a->batched || !(p >= 0 && p < 1)) return fail(net, "dropout: bad input or p %g", p);
    sm_nn_node *nd = add_node(net, OP_DROPOUT, "dropout", 1, &x, a->C, a->H, a->W);
    if (!nd) return SM_NN_NONE;
    nd->fp[0] = p;
    nd->aux_per_n = (size_t)nd->C * nd->H * nd->W;
    return handle(net, nd);
}

sm_nn_t sm_nn_conv_block(sm_nn_net *net, const char *name, sm_nn_t x, int out_c) {
    char a[SM_NN_NAME], b[SM_NN_NAME];
    snprintf(a, sizeof a, "%s.conv", name ? name : "block");
    snprintf(b, sizeof b, "%s.norm", name ? name : "block");
    int g = out_c % 8 == 0 ? 8 : out_c % 4 == 0 ? 4 : out_c % 2 == 0 ? 2 : 1;
    sm_nn_t y = sm_nn_conv2d(net, a, x, out_c, 3, 1, 1, 1, 1, 0);
    y = sm_nn_groupnorm(net, b, y, g, 1e-5f);
    return sm_nn_act(net, y, SM_NN_SILU);
}

static sm_nn_t loss(sm_nn_net *net, int kind, const char *nm, sm_nn_t z, sm_nn_t t, float p1, float p2) {
    if (!valid(net, z) || !valid(net, t)) return SM_NN_NONE;
    const sm_nn_node *a = &net->nodes[z], *b = &net->nodes[t];
    if (!a->batched || !b->batched || a->C != b->C || a->H != b->H || a->W != b->W)
        return fail(net, "%s: prediction (%d,%d,%d) and target (%d,%d,%d) differ", nm, a->C, a->H, a->W, b->C, b->H,
                    b->W);
    sm_nn_t in[2] = {z, t};
    sm_nn_node *nd = add_node(net, OP_LOSS, nm, 2, in, 1, 1, 1);
    if (!nd) return SM_NN_NONE;
    nd->batched = 0;
    nd->ip[0] = kind;
    nd->fp[0] = p1;
    nd->fp[1] = p2;
    return handle(net, nd);
}

sm_nn_t sm_nn_loss_bce(sm_nn_net *net, sm_nn_t logits, sm_nn_t target, float pos_weight) {
    if (!(pos_weight > 0)) return fail(net, "loss_bce: pos_weight %g must be positive", pos_weight);
    return loss(net, SM_NN_LOSS_BCE, "loss_bce", logits, target, pos_weight, 0);
}
sm_nn_t sm_nn_loss_dice(sm_nn_net *net, sm_nn_t logits, sm_nn_t target, float eps) {
    if (!(eps > 0)) return fail(net, "loss_dice: eps %g must be positive", eps);
    return loss(net, SM_NN_LOSS_DICE, "loss_dice", logits, target, eps, 0);
}
sm_nn_t sm_nn_loss_focal(sm_nn_net *net, sm_nn_t logits, sm_nn_t target, float alpha, float gamma) {
    if (!(gamma >= 0) || alpha > 1) return fail(net, "loss_focal: bad alpha %g or gamma %g", alpha, gamma);
    return loss(net, SM_NN_LOSS_FOCAL, "loss_focal", logits, target, alpha, gamma);
}
sm_nn_t sm_nn_loss_lovasz(sm_nn_net *net, sm_nn_t logits, sm_nn_t target) {
    return loss(net, SM_NN_LOSS_LOVASZ, "loss_lovasz", logits, target, 0, 0);
}
sm_nn_t sm_nn_loss_l1(sm_nn_net *net, sm_nn_t x, sm_nn_t target) {
    return loss(net, SM_NN_LOSS_L1, "loss_l1", x, target, 0, 0);
}
sm_nn_t sm_nn_loss_l2(sm_nn_net *net, sm_nn_t x, sm_nn_t target) {
    return loss(net, SM_NN_LOSS_L2, "loss_l2", x, target, 0, 0);
}

/* ---------------------------------------------------------------- compile and parameters */

int sm_nn_compile(sm_nn_net *net, sm_error *err) {
    if (net->err.code) return sm_error_set(err, net->err.code, "%s", net->err.msg);
    if (net->compiled) return 0;
    if (net->n_nodes == 0) return sm_error_set(err, SM_EINVAL, "nn: empty network");
    size_t total = 0;
    for (int i = 0; i < net->n_params; i++) {
        net->ps[i].off = total;
        total += (net->ps[i].n + 15) / 16 * 16;   /* 64-byte aligned parameters */
    }
    net->total = total;
    net->params = net->be->alloc(sizeof(float) * (total ? total : 1));
    net->grads = net->be->alloc(sizeof(float) * (total ? total : 1));
    if (!net->params || !net->grads) return sm_error_set(err, SM_ENOMEM, "nn: no memory for %zu parameters", total);
    for (int i = 0; i < net->n_params; i++) {
        nn_param *p = &net->ps[i];
        float *d = net->params + p->off;
        sm_rng r;
        sm_rng_seed_stream(&r, net->seed, 1000 + (uint64_t)i);
        for (size_t j = 0; j < p->n; j++) {
            switch (p->init) {
            case -1: d[j] = 0; break;
            case -2: d[j] = 1; break;
            case SM_NN_INIT_KAIMING: d[j] = (float)(sm_rng_normal(&r) * sqrt(2.0 / p->fan_in)); break;
            case SM_NN_INIT_XAVIER:
                d[j] = (float)((2 * sm_rng_uniform(&r) - 1) * sqrt(6.0 / (p->fan_in + p->fan_out)));
                break;
            default: d[j] = (float)((2 * sm_rng_uniform(&r) - 1) / sqrt((double)p->fan_in)); break;
            }
        }
    }
    net->compiled = 1;
    return 0;
}

int sm_nn_shape(const sm_nn_net *net, sm_nn_t t, int *c, int *h, int *w) {
    if (t < 0 || t >= net->n_nodes) return SM_EINVAL;
    if (c) *c = net->nodes[t].C;
    if (h) *h = net->nodes[t].H;
    if (w) *w = net->nodes[t].W;
    return 0;
}

int sm_nn_param_count(const sm_nn_net *net) { return net->n_params; }

size_t sm_nn_param_total(const sm_nn_net *net) {
    size_t s = 0;
    for (int i = 0; i < net->n_params; i++) s += net->ps[i].n;
    return s;
}

const char *sm_nn_param_info(const sm_nn_net *net, int i, float **data, float **grad, int *ndim, int64_t shape[4]) {
    if (i < 0 || i >= net->n_params) return NULL;
    const nn_param *p = &net->ps[i];
    if (data) *data = net->params ? net->params + p->off : NULL;
    if (grad) *grad = net->grads ? net->grads + p->off : NULL;
    if (ndim) *ndim = p->ndim;
    if (shape)
        for (int j = 0; j < 4; j++) shape[j] = p->shape[j];
    return p->name;
}

float *sm_nn_param(sm_nn_net *net, const char *name, size_t *n) {
    for (int i = 0; i < net->n_params; i++)
        if (strcmp(net->ps[i].name, name) == 0) {
            if (n) *n = net->ps[i].n;
            return net->params ? net->params + net->ps[i].off : NULL;
        }
    return NULL;
}

int sm_nn_copy_params(sm_nn_net *dst, const sm_nn_net *src, sm_error *err) {
    if (!dst->compiled || !src->compiled) return sm_error_set(err, SM_EINVAL, "nn: copy_params before compile");
    for (int i = 0; i < dst->n_params; i++) {
        const nn_param *p = &dst->ps[i];
        int j = 0;
        while (j < src->n_params && strcmp(src->ps[j].name, p->name) != 0) j++;
        if (j == src->n_params) return sm_error_set(err, SM_EINVAL, "nn: parameter %s missing in source", p->name);
        const nn_param *q = &src->ps[j];
        if (q->ndim != p->ndim || memcmp(q->shape, p->shape, sizeof p->shape) != 0)
            return sm_error_set(err, SM_EINVAL, "nn: parameter %s has another shape in the source", p->name);
        memcpy(dst->params + p->off, src->params + q->off, sizeof(float) * p->n);
    }
    return 0;
}

void sm_nn_zero_grad(sm_nn_net *net) {
    if (net->grads) net->be->zero(net->grads, sizeof(float) * net->total);
}

/* ---------------------------------------------------------------- contexts */

static size_t node_floats(const sm_nn_node *nd, int N) {
    return (nd->batched ? (size_t)N : 1) * (size_t)nd->C * nd->H * nd->W;
}

sm_nn_ctx *sm_nn_ctx_create(sm_nn_net *net, int n, enum sm_nn_mode mode, sm_error *err) {
    if (!net->compiled) {
        sm_error_set(err, SM_EINVAL, "nn: context for a net that is not compiled");
        return NULL;
    }
    if (n < 1 || n > 1 << 20) {
        sm_error_set(err, SM_EINVAL, "nn: batch size %d", n);
        return NULL;
    }
    sm_nn_ctx *c = calloc(1, sizeof *c);
    if (!c) goto nomem;
    c->net = net;
    c->N = n;
    c->mode = mode;
    c->data = calloc((size_t)net->n_nodes, sizeof(float *));
    c->grad = calloc((size_t)net->n_nodes, sizeof(float *));
    c->aux = calloc((size_t)net->n_nodes, sizeof(float *));
    c->plans = calloc((size_t)net->n_nodes, sizeof(void *));
    if (!c->data || !c->grad || !c->aux || !c->plans) goto nomem;
    size_t act = 0, aux = 0, work = 0;
    for (int i = 0; i < net->n_nodes; i++) {
        const sm_nn_node *nd = &net->nodes[i];
        size_t s;
        if (sm_size_mul(&s, node_floats(nd, n), sizeof(float), 1, "nn activations", err) < 0) goto fail;
        act += (node_floats(nd, n) + 15) / 16 * 16;
        aux += (nd->aux_per_n * (size_t)n + nd->aux_fixed + 15) / 16 * 16;
        if (nd->op == OP_CONV || nd->op == OP_CONVT) {
            const sm_nn_node *x = &net->nodes[nd->in[0]];
            sm_nn_conv d = {n, x->C, x->H, x->W, nd->C, nd->H, nd->W, nd->ip[0], nd->ip[1], nd->ip[2],
                            nd->op == OP_CONV ? nd->ip[3] : 1, nd->op == OP_CONV ? nd->ip[4] : 1};
            size_t w = net->be->conv_work_floats(&d);
            if (w > work) work = w;
            c->plans[i] = net->be->conv_plan_create(&d, nd->op == OP_CONVT, nd->p_b >= 0, mode != SM_NN_INFER);
        }
    }
    size_t bytes;
    if (sm_size_mul(&bytes, act, sizeof(float), 1, "nn activations", err) < 0) goto fail;
    c->act_buf = net->be->alloc(sizeof(float) * act);
    c->aux_buf = net->be->alloc(sizeof(float) * (aux ? aux : 1));
    c->work = net->be->alloc(sizeof(float) * (work ? work : 1));
    if (!c->act_buf || !c->aux_buf || !c->work) goto nomem;
    if (mode != SM_NN_INFER) {
        c->grad_buf = net->be->alloc(sizeof(float) * act);
        if (!c->grad_buf) goto nomem;
    }
    size_t o = 0, oa = 0;
    for (int i = 0; i < net->n_nodes; i++) {
        const sm_nn_node *nd = &net->nodes[i];
        c->data[i] = c->act_buf + o;
        if (c->grad_buf) c->grad[i] = c->grad_buf + o;
        o += (node_floats(nd, n) + 15) / 16 * 16;
        c->aux[i] = c->aux_buf + oa;
        oa += (nd->aux_per_n * (size_t)n + nd->aux_fixed + 15) / 16 * 16;
    }
    c->input_grads = mode == SM_NN_EVAL_GRAD;
    sm_nn_ctx_seed(c, net->seed ^ 0x5eedd40u);
    return c;
nomem:
    sm_error_set(err, SM_ENOMEM, "nn: no memory for a context of batch %d", n);
fail:
    sm_nn_ctx_destroy(c);
    return NULL;
}

void sm_nn_ctx_destroy(sm_nn_ctx *c) {
    if (!c) return;
    const sm_nn_backend *be = c->net->be;
    if (c->plans)
        for (int i = 0; i < c->net->n_nodes; i++)
            if (c->plans[i]) be->conv_plan_destroy(c->plans[i]);
    free(c->plans);
    if (c->act_buf) be->free(c->act_buf);
    if (c->grad_buf) be->free(c->grad_buf);
    if (c->aux_buf) be->free(c->aux_buf);
    if (c->work) be->free(c->work);
    free(c->data);
    free(c->grad);
    free(c->aux);
    free(c);
}

float *sm_nn_ctx_data(sm_nn_ctx *c, sm_nn_t t) {
    return (t >= 0 && t < c->net->n_nodes) ? c->data[t] : NULL;
}
float *sm_nn_ctx_grad(sm_nn_ctx *c, sm_nn_t t) {
    return (t >= 0 && t < c->net->n_nodes) ? c->grad[t] : NULL;
}
int sm_nn_ctx_batch(const sm_nn_ctx *c) { return c->N; }
void sm_nn_ctx_input_grads(sm_nn_ctx *c, int on) { c->input_grads = on != 0; }
void sm_nn_ctx_seed(sm_nn_ctx *c, uint64_t seed) {
    c->seed = seed;
    c->forwards = 0;
}

/* ---------------------------------------------------------------- forward and backward */

static sm_nn_conv conv_desc(const sm_nn_ctx *c, const sm_nn_node *nd) {
    const sm_nn_node *x = &c->net->nodes[nd->in[0]];
    sm_nn_conv d = {c->N, x->C, x->H, x->W, nd->C, nd->H, nd->W, nd->ip[0], nd->ip[1], nd->ip[2],
                    nd->op == OP_CONV ? nd->ip[3] : 1, nd->op == OP_CONV ? nd->ip[4] : 1};
    return d;
}

/* the gradient buffer that backward adds into for node idx, NULL when nobody wants it */
static float *GIN(const sm_nn_ctx *c, int idx) {
    if (c->net->nodes[idx].op == OP_INPUT && !c->input_grads) return NULL;
    return c->grad[idx];
}

static float *P(const sm_nn_net *net, int idx) { return idx < 0 ? NULL : net->params + net->ps[idx].off; }
static float *G(const sm_nn_net *net, int idx) { return idx < 0 ? NULL : net->grads + net->ps[idx].off; }

int sm_nn_forward(sm_nn_ctx *c, sm_error *err) {
    sm_nn_net *net = c->net;
    const sm_nn_backend *be = net->be;
    int train = c->mode == SM_NN_TRAIN, N = c->N;
    c->forwards++;
    for (int i = 0; i < net->n_nodes; i++) {
        const sm_nn_node *nd = &net->nodes[i];
        float *y = c->data[i];
        const float *x = nd->n_in > 0 ? c->data[nd->in[0]] : NULL;
        const sm_nn_node *a = nd->n_in > 0 ? &net->nodes[nd->in[0]] : NULL;
        int HW = nd->H * nd->W;
        switch (nd->op) {
        case OP_INPUT: break;
        case OP_CONV: {
            sm_nn_conv d = conv_desc(c, nd);
            be->conv2d_forward(y, x, P(net, nd->p_w), P(net, nd->p_b), &d, c->work, c->plans[i]);
            break;
        }
        case OP_CONVT: {
            sm_nn_conv d = conv_desc(c, nd);
            be->convt2d_forward(y, x, P(net, nd->p_w), P(net, nd->p_b), &d, c->work, c->plans[i]);
            break;
        }
        case OP_UPSAMPLE: be->upsample_forward(y, x, N * a->C, a->H, a->W, nd->ip[0], nd->ip[1]); break;
        case OP_BN:
            if (train) {
                float *mean = c->aux[i], *rstd = mean + nd->C;
                be->batchnorm_forward_train(y, mean, rstd, x, P(net, nd->p_w), P(net, nd->p_b), N, nd->C, HW,
                                            nd->fp[1]);
                float m = nd->fp[0], *rm = P(net, nd->p_rm), *rv = P(net, nd->p_rv);
                double M = (double)N * HW;
                for (int ch = 0; ch < nd->C; ch++) {
                    double var = 1.0 / ((double)rstd[ch] * rstd[ch]) - nd->fp[1];
                    if (var < 0) var = 0;
                    rm[ch] = (1 - m) * rm[ch] + m * mean[ch];
                    rv[ch] = (float)((1 - m) * rv[ch] + m * var * (M > 1 ? M / (M - 1) : 1));
                }
            } else {
                be->batchnorm_forward_eval(y, x, P(net, nd->p_w), P(net, nd->p_b), P(net, nd->p_rm),
                                           P(net, nd->p_rv), N, nd->C, HW, nd->fp[1]);
            }
            break;
        case OP_GN: {
            float *mean = c->aux[i], *rstd = mean + (size_t)N * nd->ip[0];
            be->groupnorm_forward(y, mean, rstd, x, P(net, nd->p_w), P(net, nd->p_b), N, nd->C, HW, nd->ip[0],
                                  nd->fp[0]);
            break;
        }
        case OP_ACT: be->act_forward(y, x, node_floats(nd, N), nd->ip[0]); break;
        case OP_ADD:
        case OP_MUL: {
            const sm_nn_node *b = &net->nodes[nd->in[1]];
            be->binary_forward(y, x, c->data[nd->in[1]], nd->batched ? N : 1, nd->C, HW, b->H * b->W,
                               nd->op == OP_ADD ? 0 : 1);
            break;
        }
        case OP_SCALE: {
            size_t n = node_floats(nd, N);
            for (size_t j = 0; j < n; j++) y[j] = nd->fp[0] * x[j];
            break;
        }
        case OP_CONCAT: {
            int c0 = 0;
            for (int j = 0; j < nd->n_in; j++) {
                const sm_nn_node *s = &net->nodes[nd->in[j]];
                be->concat_forward(y, c->data[nd->in[j]], N, s->C, nd->C, c0, HW);
                c0 += s->C;
            }
            break;
        }
        case OP_CROP: be->crop_forward(y, x, N * nd->C, a->H, a->W, nd->ip[0], nd->ip[1], nd->H, nd->W); break;
        case OP_POOL:
            be->pool_forward(y, (int32_t *)c->aux[i], x, N * nd->C, a->H, a->W, nd->H, nd->W, nd->ip[1], nd->ip[2],
                             nd->ip[3], nd->ip[0]);
            break;
        case OP_GPOOL: be->gpool_forward(y, (int32_t *)c->aux[i], x, N * nd->C, a->H * a->W, nd->ip[0]); break;
        case OP_LINEAR:
            be->linear_forward(y, x, P(net, nd->p_w), P(net, nd->p_b), N, a->C * a->H * a->W, nd->C);
            break;
        case OP_SOFTMAX: be->softmax_forward(y, x, N, nd->C, HW); break;
        case OP_ATTN: {
            const sm_nn_node *k = &net->nodes[nd->in[1]];
            be->attention_forward(y, c->aux[i], x, c->data[nd->in[1]], c->data[nd->in[2]], N, nd->C, HW,
                                  k->H * k->W, nd->ip[0]);
            break;
        }
        case OP_DROPOUT: {
            size_t n = node_floats(nd, N);
            float *mask = c->aux[i], p = nd->fp[0];
            if (train && p > 0) {
                sm_rng r;
                sm_rng_seed_stream(&r, c->seed, c->forwards * 4096 + (uint64_t)i);
                for (size_t j = 0; j < n; j++) mask[j] = sm_rng_uniform(&r) < p ? 0.0f : 1.0f / (1.0f - p);
            } else {
                for (size_t j = 0; j < n; j++) mask[j] = 1.0f;
            }
            be->dropout_forward(y, x, mask, n);
            break;
        }
        case OP_LOSS: {
            size_t per = (size_t)a->C * a->H * a->W;
            y[0] = (float)be->loss_forward(nd->ip[0], x, c->data[nd->in[1]], N, per, nd->fp[0], nd->fp[1]);
            break;
        }
        default: return sm_error_set(err, SM_EINTERNAL, "nn: unknown op %d", nd->op);
        }
    }
    return 0;
}

int sm_nn_backward(sm_nn_ctx *c, sm_nn_t loss_t, sm_error *err) {
    sm_nn_net *net = c->net;
    const sm_nn_backend *be = net->be;
    if (c->mode == SM_NN_INFER) return sm_error_set(err, SM_EINVAL, "nn: backward on an inference context");
    if (loss_t < 0 || loss_t >= net->n_nodes) return sm_error_set(err, SM_EINVAL, "nn: backward from bad handle");
    int N = c->N, train = c->mode == SM_NN_TRAIN;
    be->zero(c->grad_buf, sizeof(float) * (size_t)(c->data[net->n_nodes - 1] - c->act_buf +
                                                   (ptrdiff_t)node_floats(&net->nodes[net->n_nodes - 1], N)));
    {
        float *g = c->grad[loss_t];
        size_t n = node_floats(&net->nodes[loss_t], N);
        for (size_t j = 0; j < n; j++) g[j] = 1.0f;
    }
    for (int i = loss_t; i >= 0; i--) {
        const sm_nn_node *nd = &net->nodes[i];
        if (nd->op == OP_INPUT) continue;
        const float *dy = c->grad[i], *y = c->data[i];
        const float *x = c->data[nd->in[0]];
        float *dx = GIN(c, nd->in[0]);
        const sm_nn_node *a = &net->nodes[nd->in[0]];
        switch (nd->op) {   /* kernels without a NULL check for dx */
        case OP_UPSAMPLE: case OP_ACT: case OP_SCALE: case OP_CROP: case OP_POOL: case OP_GPOOL: case OP_SOFTMAX:
        case OP_DROPOUT: case OP_LOSS:
            if (!dx) continue;
            break;
        default: break;
        }
        int HW = nd->H * nd->W;
        switch (nd->op) {
        case OP_CONV: {
            sm_nn_conv d = conv_desc(c, nd);
            be->conv2d_backward(dx, G(net, nd->p_w), G(net, nd->p_b), dy, x, P(net, nd->p_w), &d, c->work, c->plans[i]);
            break;
        }
        case OP_CONVT: {
            sm_nn_conv d = conv_desc(c, nd);
            be->convt2d_backward(dx, G(net, nd->p_w), G(net, nd->p_b), dy, x, P(net, nd->p_w), &d, c->work, c->plans[i]);
            break;
        }
        case OP_UPSAMPLE: be->upsample_backward(dx, dy, N * a->C, a->H, a->W, nd->ip[0], nd->ip[1]); break;
        case OP_BN:
            if (train) {
                float *mean = c->aux[i], *rstd = mean + nd->C;
                be->batchnorm_backward_train(dx, G(net, nd->p_w), G(net, nd->p_b), dy, x, mean, rstd,
                                             P(net, nd->p_w), N, nd->C, HW);
            } else {
                be->batchnorm_backward_eval(dx, G(net, nd->p_w), G(net, nd->p_b), dy, x, P(net, nd->p_w),
                                            P(net, nd->p_rm), P(net, nd->p_rv), N, nd->C, HW, nd->fp[1]);
            }
            break;
        case OP_GN: {
            float *mean = c->aux[i], *rstd = mean + (size_t)N * nd->ip[0];
            be->groupnorm_backward(dx, G(net, nd->p_w), G(net, nd->p_b), dy, x, mean, rstd, P(net, nd->p_w), N,
                                   nd->C, HW, nd->ip[0]);
            break;
        }
        case OP_ACT: be->act_backward(dx, dy, x, y, node_floats(nd, N), nd->ip[0]); break;
        case OP_ADD:
        case OP_MUL: {
            const sm_nn_node *b = &net->nodes[nd->in[1]];
            be->binary_backward(dx, GIN(c, nd->in[1]), dy, x, c->data[nd->in[1]], nd->batched ? N : 1, nd->C, HW,
                                b->H * b->W, nd->op == OP_ADD ? 0 : 1);
            break;
        }
        case OP_SCALE: {
            size_t n = node_floats(nd, N);
            for (size_t j = 0; j < n; j++) dx[j] += nd->fp[0] * dy[j];
            break;
        }
        case OP_CONCAT: {
            int c0 = 0;
            for (int j = 0; j < nd->n_in; j++) {
                const sm_nn_node *s = &net->nodes[nd->in[j]];
                if (GIN(c, nd->in[j])) be->concat_backward(GIN(c, nd->in[j]), dy, N, s->C, nd->C, c0, HW);
                c0 += s->C;
            }
            break;
        }
        case OP_CROP: be->crop_backward(dx, dy, N * nd->C, a->H, a->W, nd->ip[0], nd->ip[1], nd->H, nd->W); break;
        case OP_POOL:
            be->pool_backward(dx, dy, (const int32_t *)c->aux[i], N * nd->C, a->H, a->W, nd->H, nd->W, nd->ip[1],
                              nd->ip[2], nd->ip[3], nd->ip[0]);
            break;
        case OP_GPOOL:
            be->gpool_backward(dx, dy, (const int32_t *)c->aux[i], N * nd->C, a->H * a->W, nd->ip[0]);
            break;
        case OP_LINEAR:
            be->linear_backward(dx, G(net, nd->p_w), G(net, nd->p_b), dy, x, P(net, nd->p_w), N,
                                a->C * a->H * a->W, nd->C);
            break;
        case OP_SOFTMAX: be->softmax_backward(dx, dy, y, N, nd->C, HW); break;
        case OP_ATTN: {
            const sm_nn_node *k = &net->nodes[nd->in[1]];
            be->attention_backward(dx, GIN(c, nd->in[1]), GIN(c, nd->in[2]), dy, c->aux[i], x, c->data[nd->in[1]],
                                   c->data[nd->in[2]], N, nd->C, HW, k->H * k->W, nd->ip[0]);
            break;
        }
        case OP_DROPOUT: be->dropout_backward(dx, dy, c->aux[i], node_floats(nd, N)); break;
        case OP_LOSS: {
            size_t per = (size_t)a->C * a->H * a->W;
            be->loss_backward(nd->ip[0], dx, dy[0], x, c->data[nd->in[1]], N, per, nd->fp[0], nd->fp[1]);
            break;
        }
        default: return sm_error_set(err, SM_EINTERNAL, "nn: unknown op %d", nd->op);
        }
    }
    return 0;
}
