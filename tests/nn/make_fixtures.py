#!/usr/bin/python3
"""Reference fixtures for the samem nn engine, computed by PyTorch (Debian's python3-torch, 1.13, CPU).

Run by hand from the repository root:  /usr/bin/python3 tests/nn/make_fixtures.py
It writes tests/nn/fixtures/<case>.safetensors, one file per op, loss and a small U-Net-like network. Each
file holds the inputs ("in.<name>"), the parameters under samem's names (PyTorch state-dict names), the weights
"r" of the objective f = sum(out * r) (for losses and the network, f is the loss itself), the output "out",
and the gradients "grad.in.<name>" and "grad.<param>" of f; for batch norm in training mode also the updated
running statistics ("after.<param>"). tests/nn/test_nn_torch.c rebuilds each case with the samem builder and
compares at 1e-4 relative to each tensor's largest magnitude. The safetensors files are written by hand
(8-byte header length, JSON header, raw float32), so no extra Python package is needed.
Dropout is left out (PyTorch's random stream cannot be reproduced); the finite-difference test covers it.
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(20261127)
torch.set_default_dtype(torch.float64)   # references in double, stored as float32
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def save(name, tensors, meta=None):
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    for k, v in tensors.items():
        a = np.ascontiguousarray(v.detach().to(torch.float32).numpy()).astype("<f4")
        b = a.tobytes()
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(OUT, name + ".safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def rnd(*shape, lo=-1.0, hi=1.0):
    return (torch.rand(*shape) * (hi - lo) + lo).requires_grad_(True)


def case(name, inputs, params, fn, scalar=False, extra=None):
    """inputs, params: dicts name -> leaf tensor (requires_grad); fn(inputs, params) -> output"""
    # targets (names with "target" or "_gt") get no gradient: samem does not back-propagate into loss targets
    inputs = {k: v.detach().clone().requires_grad_("target" not in k and "_gt" not in k) for k, v in inputs.items()}
    params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    before = {k: v.detach().clone() for k, v in params.items()}
    out = fn(inputs, params)
    tensors = {}
    if scalar:
        f = out
        tensors["out"] = out.reshape(1, 1, 1, 1)
    else:
        r = torch.rand(out.shape) * 2 - 1
        f = (out * r).sum()
        tensors["r"] = r
        tensors["out"] = out
    f.backward()
    for k, v in inputs.items():
        tensors["in." + k] = v
        if v.grad is not None:
            tensors["grad.in." + k] = v.grad
    for k, v in params.items():
        tensors[k] = before[k]
        if v.grad is not None:
            tensors["grad." + k] = v.grad
        if not torch.equal(before[k], v.detach()):
            tensors["after." + k] = v.detach()
    if extra:
        tensors.update(extra)
    save(name, tensors)


def conv_case(name, C, H, W, O, k, s, p, d, g, bias, N=2):
    params = {"c.weight": rnd(O, C // g, k, k)}
    if bias:
        params["c.bias"] = rnd(O)
    case(name, {"x": rnd(N, C, H, W)}, params,
         lambda i, q: F.conv2d(i["x"], q["c.weight"], q.get("c.bias"), stride=s, padding=p, dilation=d, groups=g))


def main():
    os.makedirs(OUT, exist_ok=True)
    conv_case("conv2d_k3s2p1", 3, 9, 7, 5, 3, 2, 1, 1, 1, True)
    conv_case("conv2d_dil2_groups2", 4, 8, 9, 6, 3, 1, 2, 2, 2, True)
    conv_case("conv2d_depthwise_k5s2", 4, 9, 9, 4, 5, 2, 2, 1, 4, False)
    conv_case("conv2d_1x1", 3, 5, 6, 4, 1, 1, 0, 1, 1, True, N=3)
    case("conv_transpose2d_k3s2p1op1", {"x": rnd(2, 3, 5, 4)}, {"c.weight": rnd(3, 2, 3, 3), "c.bias": rnd(2)},
         lambda i, q: F.conv_transpose2d(i["x"], q["c.weight"], q["c.bias"], stride=2, padding=1, output_padding=1))
    case("upsample_nearest2", {"x": rnd(2, 2, 3, 5)}, {},
         lambda i, q: F.interpolate(i["x"], scale_factor=2, mode="nearest"))
    case("upsample_bilinear3", {"x": rnd(2, 2, 3, 5)}, {},
         lambda i, q: F.interpolate(i["x"], scale_factor=3, mode="bilinear", align_corners=False))
    bn = {"bn.weight": rnd(3), "bn.bias": rnd(3), "bn.running_mean": rnd(3), "bn.running_var": rnd(3, lo=0.5, hi=2)}

    def bn_train(i, q):
        rm, rv = q["bn.running_mean"], q["bn.running_var"]
        rm.requires_grad_(False)
        rv.requires_grad_(False)
        return F.batch_norm(i["x"], rm, rv, q["bn.weight"], q["bn.bias"], training=True, momentum=0.1, eps=1e-5)

    case("batchnorm_train", {"x": rnd(3, 3, 5, 3)}, bn, bn_train)

    def bn_eval(i, q):
        return F.batch_norm(i["x"], q["bn.running_mean"].detach(), q["bn.running_var"].detach(), q["bn.weight"],
                            q["bn.bias"], training=False, eps=1e-5)

    case("batchnorm_eval", {"x": rnd(2, 3, 5, 3)}, bn, bn_eval)
    case("groupnorm3", {"x": rnd(2, 6, 3, 5)}, {"gn.weight": rnd(6), "gn.bias": rnd(6)},
         lambda i, q: F.group_norm(i["x"], 3, q["gn.weight"], q["gn.bias"], eps=1e-5))
    for nm, fn in [("relu", F.relu), ("silu", F.silu), ("gelu", F.gelu), ("sigmoid", torch.sigmoid),
                   ("tanh", torch.tanh)]:
        case("act_" + nm, {"x": rnd(2, 3, 4, 5, lo=-3, hi=3)}, {}, lambda i, q, fn=fn: fn(i["x"]))
    case("add", {"a": rnd(2, 3, 4, 5), "b": rnd(2, 3, 4, 5)}, {}, lambda i, q: i["a"] + i["b"])
    case("mul", {"a": rnd(2, 3, 4, 5), "b": rnd(2, 3, 4, 5)}, {}, lambda i, q: i["a"] * i["b"])
    case("mul_broadcast", {"a": rnd(2, 3, 4, 5), "b": rnd(2, 3, 1, 1)}, {}, lambda i, q: i["a"] * i["b"])
    case("concat", {"a": rnd(2, 1, 3, 5), "b": rnd(2, 3, 3, 5)}, {}, lambda i, q: torch.cat([i["a"], i["b"]], 1))
    case("crop", {"x": rnd(2, 2, 7, 6)}, {}, lambda i, q: i["x"][:, :, 1:5, 2:5])
    case("avgpool_k3s2p1", {"x": rnd(2, 2, 7, 6)}, {}, lambda i, q: F.avg_pool2d(i["x"], 3, 2, 1))
    case("maxpool_k3s2p1", {"x": rnd(2, 2, 7, 6)}, {}, lambda i, q: F.max_pool2d(i["x"], 3, 2, 1))
    case("global_avgpool", {"x": rnd(2, 3, 5, 3)}, {}, lambda i, q: F.adaptive_avg_pool2d(i["x"], 1))
    case("global_maxpool", {"x": rnd(2, 3, 5, 3)}, {}, lambda i, q: F.adaptive_max_pool2d(i["x"], 1))
    case("linear", {"x": rnd(3, 3, 2, 3)}, {"fc.weight": rnd(4, 18), "fc.bias": rnd(4)},
         lambda i, q: F.linear(i["x"].flatten(1), q["fc.weight"], q["fc.bias"]).reshape(3, 4, 1, 1))
    case("softmax", {"x": rnd(2, 4, 3, 3, lo=-3, hi=3)}, {}, lambda i, q: F.softmax(i["x"], dim=1))

    def attention(i, q, heads=2):
        Q, K, V = i["q"], i["k"], i["v"]
        N, C, H, W = Q.shape
        dh = C // heads
        qt = Q.reshape(N, heads, dh, -1).transpose(2, 3)   # (N, h, Tq, dh)
        kt = K.reshape(N, heads, dh, -1).transpose(2, 3)
        vt = V.reshape(N, heads, dh, -1).transpose(2, 3)
        a = torch.softmax(qt @ kt.transpose(2, 3) / math.sqrt(dh), dim=-1)
        return (a @ vt).transpose(2, 3).reshape(N, C, H, W)

    case("attention_2heads", {"q": rnd(2, 4, 3, 3), "k": rnd(2, 4, 2, 3), "v": rnd(2, 4, 2, 3)}, {}, attention)

    z = rnd(3, 2, 5, 3, lo=-3, hi=3)
    t = torch.rand(3, 2, 5, 3)
    t[:, :, ::2] = (t[:, :, ::2] > 0.5).double()   # half hard labels, half soft

    def focal(zz, tt, alpha=0.25, gamma=2.0):
        p = torch.sigmoid(zz)
        ce = F.binary_cross_entropy_with_logits(zz, tt, reduction="none")
        pt = p * tt + (1 - p) * (1 - tt)
        return (ce * (1 - pt) ** gamma * (alpha * tt + (1 - alpha) * (1 - tt))).mean()

    def dice(zz, tt, eps=1.0):
        p = torch.sigmoid(zz).flatten(1)
        tt = tt.flatten(1)
        return (1 - (2 * (p * tt).sum(1) + eps) / (p.sum(1) + tt.sum(1) + eps)).mean()

    for nm, fn in [("bce_posweight2", lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=torch.tensor(2.0))),
                   ("dice", dice), ("focal", focal), ("l1", F.l1_loss), ("l2", F.mse_loss)]:
        case("loss_" + nm, {"z": z, "target": t.clone().requires_grad_(False)}, {},
             lambda i, q, fn=fn: fn(i["z"], i["target"]), scalar=True)

    # a small U-Net-like network with two inputs and two outputs/losses (see test_nn_torch.c: build_unet)
    def block_params(name, cin, cout):
        g = 8 if cout % 8 == 0 else 4
        return {name + ".conv.weight": rnd(cout, cin, 3, 3) * (1.0 / math.sqrt(cin * 9)),
                name + ".norm.weight": rnd(cout, lo=0.5, hi=1.5), name + ".norm.bias": rnd(cout, lo=-0.2, hi=0.2)}, g

    P = {}
    for nm, cin, cout in [("enc1", 4, 8), ("enc2", 8, 16), ("dec1", 24, 8)]:
        P.update(block_params(nm, cin, cout)[0])
    P["head.weight"] = rnd(1, 8, 1, 1)
    P["head.bias"] = rnd(1)
    P["iou.weight"] = rnd(1, 16)
    P["iou.bias"] = rnd(1)
    P = {k: v.detach().clone() for k, v in P.items()}

    def block(x, q, name, cout):
        g = 8 if cout % 8 == 0 else 4
        y = F.conv2d(x, q[name + ".conv.weight"], None, padding=1)
        return F.silu(F.group_norm(y, g, q[name + ".norm.weight"], q[name + ".norm.bias"], eps=1e-5))

    def unet(i, q):
        x = torch.cat([i["frames"], i["prompt"]], 1)
        e1 = block(x, q, "enc1", 8)
        e2 = block(F.max_pool2d(e1, 2, 2), q, "enc2", 16)
        u = F.interpolate(e2, scale_factor=2, mode="bilinear", align_corners=False)
        d1 = block(torch.cat([u, e1], 1), q, "dec1", 8)
        logits = F.conv2d(d1, q["head.weight"], q["head.bias"])
        iou = F.linear(F.adaptive_avg_pool2d(e2, 1).flatten(1), q["iou.weight"], q["iou.bias"])
        loss = F.binary_cross_entropy_with_logits(logits, i["mask_gt"]) + dice(logits, i["mask_gt"])
        return loss + 0.5 * F.mse_loss(iou.reshape(-1, 1, 1, 1), i["iou_gt"])

    inputs = {"frames": rnd(2, 3, 16, 16), "prompt": (torch.rand(2, 1, 16, 16) > 0.6).double(),
              "mask_gt": (torch.rand(2, 1, 16, 16) > 0.5).double(), "iou_gt": torch.rand(2, 1, 1, 1)}
    case("unet_small", inputs, P, unet, scalar=True)
    print("wrote", len([f for f in os.listdir(OUT) if f.endswith(".safetensors")]), "fixtures to", OUT)


if __name__ == "__main__":
    main()
