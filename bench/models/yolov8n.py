#!/usr/bin/python3
"""Builds a YOLOv8n-shaped ONNX model with random weights, for benchmarking iris's runtime.

The layer layout is YOLOv8n's as published (width 0.25, depth 0.33, 80 classes): Conv blocks
(Conv2d + BatchNorm + SiLU), C2f blocks that split with `chunk`, SPPF with three chained 5x5 max
pools, the PAN-FPN neck (nearest upsampling x2, Concat) and the decoupled Detect head whose DFL
(softmax over 16 bins, then a 1x1 convolution with weights 0..15) decodes boxes against anchors at
strides 8, 16 and 32. The output is [1, 84, N]: box centre x, y, width, height in input pixels,
then 80 class scores.

The weights are random (fixed seed) and the BatchNorm statistics are measured on random input, so
activations keep a realistic scale through the whole network. The export is the plain
`torch.onnx.export` with do_constant_folding=False: the Shape/Gather/Slice chains that tracing
records for `chunk`, `view` and the anchors stay in the file, as in a user's own export.

usage: /usr/bin/python3 bench/models/yolov8n.py --out DIR [--size 320 640] [--opset 17]
       [--seed 0] [--check]
Writes DIR/yolov8n_<size>.onnx for each size and prints one JSON document describing them.
Needs Debian's python3-torch and python3-onnx (and python3-opencv for --check).
"""

import argparse
import collections
import json
import math
import os
import sys
import warnings

# --check reports OpenCV's import error itself; OpenCV reads its log level when its library loads,
# which Debian's torch already does.
os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
import torch  # noqa: E402
from torch import nn  # noqa: E402

NUM_CLASSES = 80
REG_MAX = 16  # DFL bins per box side
STRIDES = (8, 16, 32)


class Conv(nn.Module):
    """Conv2d (no bias) + BatchNorm + SiLU, padding 'same' for odd kernels."""

    def __init__(self, c_in, c_out, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    """Two 3x3 Convs, with a residual Add when asked for and the shapes allow it."""

    def __init__(self, c_in, c_out, shortcut):
        super().__init__()
        self.cv1 = Conv(c_in, c_out, 3)
        self.cv2 = Conv(c_out, c_out, 3)
        self.add = shortcut and c_in == c_out

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """1x1 Conv, split in two halves with chunk, n Bottlenecks on the second half, each output
    kept, all concatenated and mixed by a 1x1 Conv."""

    def __init__(self, c_in, c_out, n, shortcut):
        super().__init__()
        self.c = c_out // 2
        self.cv1 = Conv(c_in, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c_out, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: three chained 5x5 max pools, concatenated."""

    def __init__(self, c_in, c_out, k=5):
        super().__init__()
        c_mid = c_in // 2
        self.cv1 = Conv(c_in, c_mid, 1)
        self.cv2 = Conv(4 * c_mid, c_out, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class DFL(nn.Module):
    """Distribution focal loss integral: expected bin index under a softmax over REG_MAX bins, as
    a 1x1 convolution whose weights are 0..REG_MAX-1."""

    def __init__(self, bins=REG_MAX):
        super().__init__()
        self.bins = bins
        self.conv = nn.Conv2d(bins, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(bins, dtype=torch.float).view(1, bins, 1, 1)

    def forward(self, x):
        b, _, a = x.shape
        x = x.view(b, 4, self.bins, a).transpose(2, 1).softmax(1)
        return self.conv(x).view(b, 4, a)


def make_anchors(feats, strides, offset=0.5):
    """Cell centres (x, y) of every feature map and their strides, from the maps' traced shapes."""
    points, stride_column = [], []
    for f, stride in zip(feats, strides):
        _, _, h, w = f.shape
        sx = torch.arange(w, dtype=f.dtype) + offset
        sy = torch.arange(h, dtype=f.dtype) + offset
        sy, sx = torch.meshgrid(sy, sx, indexing="ij")
        points.append(torch.stack((sx, sy), -1).view(-1, 2))
        stride_column.append(torch.full((h * w, 1), stride, dtype=f.dtype))
    return torch.cat(points).transpose(0, 1), torch.cat(stride_column).transpose(0, 1)


class Detect(nn.Module):
    """Decoupled head: per level a box branch (4 x REG_MAX DFL logits) and a class branch."""

    def __init__(self, channels, nc=NUM_CLASSES):
        super().__init__()
        self.nc = nc
        self.no = nc + 4 * REG_MAX
        c_box = max(16, channels[0] // 4, 4 * REG_MAX)
        c_cls = max(channels[0], min(nc, 100))
        self.box = nn.ModuleList(
            nn.Sequential(Conv(c, c_box, 3), Conv(c_box, c_box, 3), nn.Conv2d(c_box, 4 * REG_MAX, 1))
            for c in channels)
        self.cls = nn.ModuleList(
            nn.Sequential(Conv(c, c_cls, 3), Conv(c_cls, c_cls, 3), nn.Conv2d(c_cls, nc, 1))
            for c in channels)
        self.dfl = DFL()
        # YOLOv8's bias initialisation (box logits at 1, class scores at a low prior), jittered:
        # the exporter merges identical initialisers into Identity nodes, which trained weights
        # never produce.
        for box, cls, stride in zip(self.box, self.cls, STRIDES):
            box[-1].bias.data.normal_(1.0, 0.1)
            cls[-1].bias.data.normal_(math.log(5 / nc / (640 / stride) ** 2), 0.1)

    def forward(self, feats):
        feats = [torch.cat((b(f), c(f)), 1) for f, b, c in zip(feats, self.box, self.cls)]
        anchors, strides = make_anchors(feats, STRIDES)
        batch = feats[0].shape[0]
        x = torch.cat([f.view(batch, self.no, -1) for f in feats], 2)
        box, cls = x.split((4 * REG_MAX, self.nc), 1)
        lt, rb = self.dfl(box).chunk(2, 1)
        x1y1 = anchors.unsqueeze(0) - lt
        x2y2 = anchors.unsqueeze(0) + rb
        xywh = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides
        return torch.cat((xywh, cls.sigmoid()), 1)


class YoloV8(nn.Module):
    """Backbone, PAN-FPN neck and head of yolov8.yaml at a width and depth multiple."""

    def __init__(self, width=0.25, depth=0.33, max_channels=1024):
        super().__init__()

        def ch(c):
            return int(math.ceil(min(c, max_channels) * width / 8) * 8)

        def n(k):
            return max(round(k * depth), 1)

        self.b0 = Conv(3, ch(64), 3, 2)  # P1/2
        self.b1 = Conv(ch(64), ch(128), 3, 2)  # P2/4
        self.b2 = C2f(ch(128), ch(128), n(3), True)
        self.b3 = Conv(ch(128), ch(256), 3, 2)  # P3/8
        self.b4 = C2f(ch(256), ch(256), n(6), True)
        self.b5 = Conv(ch(256), ch(512), 3, 2)  # P4/16
        self.b6 = C2f(ch(512), ch(512), n(6), True)
        self.b7 = Conv(ch(512), ch(1024), 3, 2)  # P5/32
        self.b8 = C2f(ch(1024), ch(1024), n(3), True)
        self.b9 = SPPF(ch(1024), ch(1024))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.h12 = C2f(ch(1024) + ch(512), ch(512), n(3), False)
        self.h15 = C2f(ch(512) + ch(256), ch(256), n(3), False)  # P3 out
        self.h16 = Conv(ch(256), ch(256), 3, 2)
        self.h18 = C2f(ch(256) + ch(512), ch(512), n(3), False)  # P4 out
        self.h19 = Conv(ch(512), ch(512), 3, 2)
        self.h21 = C2f(ch(512) + ch(1024), ch(1024), n(3), False)  # P5 out
        self.detect = Detect((ch(256), ch(512), ch(1024)))

    def forward(self, x):
        x = self.b2(self.b1(self.b0(x)))
        p3 = self.b4(self.b3(x))
        p4 = self.b6(self.b5(p3))
        p5 = self.b9(self.b8(self.b7(p4)))
        h12 = self.h12(torch.cat((self.up(p5), p4), 1))
        h15 = self.h15(torch.cat((self.up(h12), p3), 1))
        h18 = self.h18(torch.cat((self.h16(h15), h12), 1))
        h21 = self.h21(torch.cat((self.h19(h18), p5), 1))
        return self.detect([h15, h18, h21])


def build(seed):
    """YOLOv8n with random weights and BatchNorm statistics measured on random input."""
    torch.manual_seed(seed)
    model = YoloV8()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.normal_(0.0, 0.2)
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.rand(2, 3, 320, 320))
    model.eval()
    return model


def conv_gflops(model, size):
    """2 x multiply-accumulates of the convolutions at one input size, as YOLO's summaries count."""
    macs = []

    def hook(module, _inputs, output):
        k = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
        macs.append(output.numel() * k)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return len(macs), 2 * sum(macs) / 1e9


def check(path, size):
    """onnx.checker, the op histogram, and whether OpenCV's dnn module can import the file."""
    import onnx

    model = onnx.load(path)
    onnx.checker.check_model(model)
    ops = collections.Counter(node.op_type for node in model.graph.node)
    result = {"checker": "ok", "nodes": len(model.graph.node),
              "ops": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])))}
    try:
        import cv2
        import numpy as np

        net = cv2.dnn.readNetFromONNX(path)
        net.setInput(np.zeros((1, 3, size, size), np.float32))
        out = net.forward()
        result["opencv"] = {"version": cv2.__version__, "status": "ok", "output": list(out.shape)}
    except Exception as e:  # OpenCV raises cv2.error; report any failure as the result
        # cv2.error's text: "OpenCV(4.6.0) file:line: error: ... in function 'f'\n> reason\n> ".
        reason = " ".join(l.lstrip("> ").strip() for l in str(e).splitlines()[1:]).strip()
        result["opencv"] = {"version": cv2.__version__ if "cv2" in sys.modules else None,
                            "status": "error", "error": reason or str(e).strip()}
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory for yolov8n_<size>.onnx")
    parser.add_argument("--size", type=int, nargs="+", default=[320, 640],
                        help="square input sizes, multiples of 32 (default 320 640)")
    parser.add_argument("--opset", type=int, default=17, choices=range(13, 18),
                        metavar="13..17", help="ONNX opset (default 17)")
    parser.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    parser.add_argument("--check", action="store_true",
                        help="run onnx.checker, count op types, try OpenCV's importer")
    args = parser.parse_args()
    for s in args.size:
        if s < 32 or s % 32:
            parser.error(f"--size {s}: YOLOv8 needs a multiple of 32 (strides up to 32), such as 640")

    os.makedirs(args.out, exist_ok=True)
    # torch 1.13's exporter warns about prim::Constant shape inference on every export; harmless.
    warnings.filterwarnings("ignore", category=UserWarning, module="torch.onnx")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model = build(args.seed)
    doc = {"model": "yolov8n-shaped (random weights)", "seed": args.seed, "opset": args.opset,
           "torch": torch.__version__,
           "params": sum(p.numel() for p in model.parameters()),
           "files": []}
    for size in args.size:
        path = os.path.join(args.out, f"yolov8n_{size}.onnx")
        x = torch.rand(1, 3, size, size)
        with torch.no_grad():
            out = model(x)
        torch.onnx.export(model, x, path, opset_version=args.opset, do_constant_folding=False,
                          input_names=["images"], output_names=["output0"])
        convs, gflops = conv_gflops(model, size)
        entry = {"path": path, "input": [1, 3, size, size], "output": list(out.shape),
                 "convs": convs, "gflops": round(gflops, 3), "bytes": os.path.getsize(path)}
        if args.check:
            entry.update(check(path, size))
        doc["files"].append(entry)
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
