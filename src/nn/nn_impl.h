/* Private structures of the nn engine shared by graph.c (builder, contexts, forward/backward), optim.c
 * (AdamW) and safetensors.c. Nothing outside src/nn and its tests includes this. */
#ifndef SM_NN_IMPL_H
#define SM_NN_IMPL_H

#include "nn/backend_impl.h"
#include "samem/nn.h"

#define SM_NN_MAX_IN 16
#define SM_NN_NAME 128

enum sm_nn_op {
    OP_INPUT, OP_CONV, OP_CONVT, OP_UPSAMPLE, OP_BN, OP_GN, OP_ACT, OP_ADD, OP_MUL, OP_SCALE, OP_CONCAT, OP_CROP,
    OP_POOL, OP_GPOOL, OP_LINEAR, OP_SOFTMAX, OP_ATTN, OP_DROPOUT, OP_LOSS, OP_COUNT
};

typedef struct sm_nn_node {
    int op;
    int n_in;
    int in[SM_NN_MAX_IN];
    int C, H, W;          /* output shape per sample */
    int batched;          /* 0 for loss scalars (1,1,1,1) */
    char name[SM_NN_NAME];
    int ip[8];            /* integer parameters of the op (see graph.c) */
    float fp[4];          /* float parameters */
    int p_w, p_b, p_rm, p_rv;   /* parameter indices or -1 */
    size_t aux_per_n, aux_fixed;  /* floats of saved state: per sample, and fixed */
} sm_nn_node;

typedef struct nn_param {
    char name[SM_NN_NAME];
    size_t off, n;         /* in floats within net->params */
    int ndim;
    int64_t shape[4];
    int trainable, decay;  /* gets AdamW updates; gets weight decay */
    int init;              /* enum sm_nn_init for weights; -1 zeros, -2 ones */
    int fan_in, fan_out;
} nn_param;

struct sm_nn_net {
    uint64_t seed;
    int init;
    const sm_nn_backend *be;
    sm_nn_node *nodes;
    int n_nodes, cap_nodes;
    nn_param *ps;
    int n_params, cap_params;
    int compiled;
    sm_error err;          /* first builder error */
    float *params, *grads; /* (total) each */
    float *adam_m, *adam_v;
    size_t total;
};

struct sm_nn_ctx {
    sm_nn_net *net;
    int N;
    int mode;
    int input_grads;   /* backward fills gradients of OP_INPUT nodes */
    float **data, **grad, **aux;   /* per node */
    float *act_buf, *grad_buf, *aux_buf, *work;
    void **plans;   /* per node: the backend's convolution plan or NULL */
    sm_rng rng;
    uint64_t seed, forwards;
};

/* Tests: run the net on another backend table (before creating contexts). */
void sm_nn_set_backend(sm_nn_net *net, const sm_nn_backend *be);

#endif
