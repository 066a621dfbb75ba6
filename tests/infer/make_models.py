#!/usr/bin/python3
"""Writes the tiny ONNX models the infer tests run, with exactly known outputs, into OUT_DIR.

usage: make_models.py OUT_DIR

Detector models output fixed tensors that encode the boxes of BOXES in each decoder's own layout.
OpenCV's importer folds graphs made only of constants, so every output is computed from the
input: out = bias + W @ mean_rgb(input) (GlobalAveragePool, Gemm, Reshape). W is zero except in
the batch model, whose boxes depend on how bright each sample is.
Needs Debian's python3-onnx and python3-numpy (scripts/deps.sh).
"""

import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 64       # model input, width and height
CLASSES = 3     # class names in the tests: a, b, c
# Boxes in model-input pixels: (cx, cy, w, h, class, score). The tests hold the expected source
# boxes of each one; keep the two in step.
BOXES = [
    (20, 30, 16, 8, 1, 0.9),   # B1
    (44, 40, 12, 16, 2, 0.6),  # B2
    (21, 30, 16, 8, 1, 0.7),   # B3: overlaps B1 (IoU 0.88), same class -> NMS drops it
    (20, 31, 16, 8, 0, 0.5),   # B4: overlaps B1, other class -> kept
    (50, 10, 8, 8, 0, 0.1),    # B5: under the 0.25 threshold
]
ROWS = 10       # rows / anchors of the yolov5, yolov8 and end2end outputs


def save(out_dir, name, nodes, inputs, outputs, initializers, opset=11):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out_dir, name + ".onnx"))


def image_input(layout, batch=1, size=(SIZE, SIZE)):
    h, w = size
    shape = [batch, 3, h, w] if layout == "nchw" else [batch, h, w, 3]
    return helper.make_tensor_value_info("images", TensorProto.FLOAT, shape)


def constant_outputs(out_dir, name, layout, outputs, weights=None, batch=1, size=(SIZE, SIZE),
                     extra_nodes=(), final_names=None):
    """A model whose outputs are `outputs` (name -> array without batch dim) for any input;
    weights (name -> array [3, *shape]) add W @ mean_rgb(input)."""
    nodes, inits = [], []
    x = "images"
    if layout == "nhwc":
        nodes.append(helper.make_node("Transpose", [x], ["nchw"], perm=[0, 3, 1, 2]))
        x = "nchw"
    nodes += [helper.make_node("GlobalAveragePool", [x], ["mean"]),
              helper.make_node("Flatten", ["mean"], ["mean_flat"])]
    infos = []
    for out_name, value in outputs.items():
        value = np.asarray(value, np.float32)
        w = np.zeros((3,) + value.shape, np.float32)
        if weights and out_name in weights:
            w = np.asarray(weights[out_name], np.float32)
        # Gemm with transB: W is [K, 3].
        inits += [numpy_helper.from_array(w.reshape(3, -1).T.copy(), out_name + "_W"),
                  numpy_helper.from_array(value.reshape(-1), out_name + "_b"),
                  numpy_helper.from_array(np.array((-1,) + value.shape, np.int64),
                                          out_name + "_shape")]
        flat = out_name + "_flat"
        nodes += [helper.make_node("Gemm", ["mean_flat", out_name + "_W", out_name + "_b"],
                                   [flat], transB=1),
                  helper.make_node("Reshape", [flat, out_name + "_shape"], [out_name])]
        dims = ["N" if batch is None else batch] + list(value.shape)
        infos.append(helper.make_tensor_value_info(out_name, TensorProto.FLOAT, dims))
    nodes += list(extra_nodes)
    if final_names:
        infos = [helper.make_tensor_value_info(n, TensorProto.FLOAT, d) for n, d in final_names]
    save(out_dir, name, nodes, [image_input(layout, "N" if batch is None else batch, size)],
         infos, inits)


def corners(b):
    cx, cy, w, h = b[:4]
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def yolov5_rows(boxes):
    rows = np.zeros((ROWS, 5 + CLASSES), np.float32)
    for i, (cx, cy, w, h, c, s) in enumerate(boxes):
        obj = 0.95  # score = obj * cls
        rows[i, :5] = (cx, cy, w, h, obj)
        rows[i, 5 + c] = s / obj
    return rows


def yolov8_channels(boxes):
    out = np.zeros((4 + CLASSES, ROWS), np.float32)
    for i, (cx, cy, w, h, c, s) in enumerate(boxes):
        out[:4, i] = (cx, cy, w, h)
        out[4 + c, i] = s
    return out


def yolox_raw_rows(boxes):
    """One row per cell of the stride 8, 16, 32 grids; each box takes the first free cell."""
    strides = [8, 16, 32]
    offsets, n = {}, 0
    for s in strides:
        offsets[s] = n
        n += (SIZE // s) ** 2
    rows = np.zeros((n, 5 + CLASSES), np.float32)
    used = set()
    for cx, cy, w, h, c, score in boxes:
        for s in strides:
            gx, gy = int(cx // s), int(cy // s)
            row = offsets[s] + gy * (SIZE // s) + gx
            if row not in used:
                break
        used.add(row)
        rows[row, :5] = (cx / s - gx, cy / s - gy, math.log(w / s), math.log(h / s), 1.0)
        rows[row, 5 + c] = score
    return rows


def ssd_outputs(boxes):
    anchors = 12
    b = np.zeros((anchors, 4), np.float32)
    scores = np.zeros((anchors, 1 + CLASSES), np.float32)
    scores[:, 0] = 1
    for i, box in enumerate(boxes):
        b[i] = np.array(corners(box)) / SIZE
        scores[i, 0] = 1 - box[5]
        scores[i, 1 + box[4]] = box[5]
    return {"scores": scores, "boxes": b}


def blazeface_outputs(boxes, size):
    """BlazeFace layout for an input of `size`: 16x16 cells of 2 anchors, then 8x8 cells of 6;
    each box takes the first free anchor of its cell."""
    grids = [(16, 2), (8, 6)]
    logits = [np.full((g * g * k, 1), -20, np.float32) for g, k in grids]
    regs = [np.zeros((g * g * k, 16), np.float32) for g, k in grids]
    for cx, cy, w, h, _, s in boxes:
        for i, (g, k) in enumerate(grids):
            gx, gy = int(cx * g // size), int(cy * g // size)
            free = [a for a in range((gy * g + gx) * k, (gy * g + gx + 1) * k)
                    if logits[i][a, 0] == -20]
            if free:
                break
        ax, ay = (gx + 0.5) / g * size, (gy + 0.5) / g * size
        logits[i][free[0], 0] = math.log(s / (1 - s))
        regs[i][free[0], :4] = (cx - ax, cy - ay, w, h)
    return {"scores_16": logits[0], "scores_8": logits[1], "boxes_16": regs[0],
            "boxes_8": regs[1]}


def end2end_rows(boxes):
    rows = np.zeros((ROWS, 6), np.float32)
    for i, box in enumerate(boxes):
        rows[i] = corners(box) + (box[5], box[4])
    return rows


def probe(out_dir, name, batch):
    """end2end, one box per sample that says how bright the sample is: with m the mean input value
    (pixel / 255), the box is [60m, 0, 60m + 4, 4], score 0.9, class 0. Tells every sample of a
    batch apart, so a test can check each answer went back to its own request."""
    row = np.array([[0, 0, 4, 4, 0.9, 0]], np.float32)
    w = np.zeros((3,) + row.shape, np.float32)
    w[:, 0, 0] = w[:, 0, 2] = 60 / 3
    constant_outputs(out_dir, name, "nchw", {"output0": row}, {"output0": w}, batch=batch)


def centroid(out_dir):
    """end2end, dynamic batch: finds the one bright square on a black picture. With m the mean
    value of the input, (cx, cy) the centroid of its brightness and s = 64 sqrt(m) the side of a
    white square of that area, the box is [cx - s/2, cy - s/2, cx + s/2, cy + s/2] and its score
    50 m: a square's score grows with the share of the input it fills, so a small object scores
    higher in a tile than in the whole frame."""
    k = np.zeros((3, 3, SIZE, SIZE), np.float32)  # one 64x64 kernel: sum x*v, sum y*v, sum v
    pos = np.arange(SIZE, dtype=np.float32) + 0.5
    norm = 3.0 * SIZE * SIZE
    k[0, :, :, :] = pos[None, None, :] / norm
    k[1, :, :, :] = pos[None, :, None] / norm
    k[2, :, :, :] = 1 / norm
    consts = {"eps": [1e-6], "half_side": [SIZE / 2], "score_scale": [50.0], "zero": [0.0]}
    inits = [numpy_helper.from_array(k, "kernel"),
             numpy_helper.from_array(np.array([-1, 1, 6], np.int64), "row_shape")]
    inits += [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in consts.items()]
    node = helper.make_node
    nodes = [
        node("Conv", ["images", "kernel"], ["sums"], kernel_shape=[SIZE, SIZE]),
        node("Split", ["sums"], ["sx", "sy", "m"], axis=1, split=[1, 1, 1]),
        node("Add", ["m", "eps"], ["m_eps"]),
        node("Div", ["sx", "m_eps"], ["cx"]),
        node("Div", ["sy", "m_eps"], ["cy"]),
        node("Sqrt", ["m"], ["root"]),
        node("Mul", ["root", "half_side"], ["half"]),
        node("Sub", ["cx", "half"], ["x1"]),
        node("Sub", ["cy", "half"], ["y1"]),
        node("Add", ["cx", "half"], ["x2"]),
        node("Add", ["cy", "half"], ["y2"]),
        node("Mul", ["m", "score_scale"], ["score"]),
        node("Mul", ["m", "zero"], ["class"]),
        node("Concat", ["x1", "y1", "x2", "y2", "score", "class"], ["rows"], axis=1),
        node("Reshape", ["rows", "row_shape"], ["output0"]),
    ]
    save(out_dir, "centroid", nodes, [image_input("nchw", "N")],
         [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["N", 1, 6])], inits)


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for layout in ("nchw", "nhwc"):
        constant_outputs(out_dir, "yolov5_" + layout, layout, {"output0": yolov5_rows(BOXES)})
        constant_outputs(out_dir, "yolov8_" + layout, layout,
                         {"output0": yolov8_channels(BOXES)})
        constant_outputs(out_dir, "yolox_raw_" + layout, layout,
                         {"output": yolox_raw_rows(BOXES)})
        # Decoded YOLOX: the graph computes w, h = exp(log w, log h) as the real export does.
        decoded = yolov5_rows(BOXES)
        decoded[:, 5:] *= decoded[:, 4:5]
        decoded[:, 4] = 1
        decoded[:, 2:4] = np.log(np.maximum(decoded[:, 2:4], 1e-3))
        split = np.array([2, 2, 1 + CLASSES], np.int64)
        constant_outputs(
            out_dir, "yolox_decoded_" + layout, layout, {"pre": decoded},
            extra_nodes=[
                helper.make_node("Split", ["pre"], ["xy", "logwh", "rest"], axis=2,
                                 split=split.tolist()),
                helper.make_node("Exp", ["logwh"], ["wh"]),
                helper.make_node("Concat", ["xy", "wh", "rest"], ["output"], axis=2)],
            final_names=[("output", [1, ROWS, 5 + CLASSES])])
        constant_outputs(out_dir, "ssd_" + layout, layout, ssd_outputs(BOXES))
        constant_outputs(out_dir, "blazeface_" + layout, layout,
                         blazeface_outputs([b[:4] + (0,) + b[5:] for b in BOXES], SIZE))
        constant_outputs(out_dir, "end2end_" + layout, layout, {"output0": end2end_rows(BOXES)})

    # ultralytics' transposed export [1, A, 4 + C] (A > 4 + C).
    constant_outputs(out_dir, "yolov8_transposed", "nchw",
                     {"output0": yolov8_channels(BOXES).T.copy()})
    # Free batch, height and width (ultralytics dynamic=True).
    constant_outputs(out_dir, "yolov8_dynamic", "nchw", {"output0": yolov8_channels(BOXES)},
                     batch=None, size=("H", "W"))

    # Dynamic batch, boxes per sample: a black sample (mean 0) scores B1 only, a white one
    # (mean 1 with scale 1/255) B2 only: score = s * (1 - mean) for B1, s * mean for B2.
    rows = yolov5_rows([BOXES[0], BOXES[1]])
    w = np.zeros((3,) + rows.shape, np.float32)
    w[0, 0, 5 + BOXES[0][4]] = -rows[0, 5 + BOXES[0][4]]
    w[0, 1, 5 + BOXES[1][4]] = rows[1, 5 + BOXES[1][4]]
    rows[1, 5 + BOXES[1][4]] = 0
    constant_outputs(out_dir, "yolov5_batch", "nchw", {"output0": rows}, {"output0": w},
                     batch=None)

    # ModelServer and pipeline tests: answers that identify their input.
    probe(out_dir, "probe", batch=None)
    probe(out_dir, "probe_b1", batch=1)
    centroid(out_dir)

    # Secondary models: logits, probabilities (Softmax in the graph) and an embedding.
    constant_outputs(out_dir, "classifier_logits", "nchw", {"logits": [1.0, 3.0, 2.0]})
    constant_outputs(
        out_dir, "classifier_probs", "nchw", {"logits": [1.0, 3.0, 2.0]},
        extra_nodes=[helper.make_node("Softmax", ["logits"], ["probs"], axis=1)],
        final_names=[("probs", [1, 3])])
    constant_outputs(out_dir, "embedding", "nchw", {"features": [3.0, 0.0, 4.0, 0.0]})

    # Identity: returns the preprocessed input, in both layouts, at a non-square size.
    for layout in ("nchw", "nhwc"):
        shape = [1, 3, 48, 64] if layout == "nchw" else [1, 48, 64, 3]
        save(out_dir, "identity_" + layout, [helper.make_node("Identity", ["images"], ["same"])],
             [image_input(layout, size=(48, 64))],
             [helper.make_tensor_value_info("same", TensorProto.FLOAT, shape)], [])

    # An op OpenCV 4.6 cannot import (GridSample, opset 16), with a constant grid.
    grid = np.zeros((1, SIZE, SIZE, 2), np.float32)
    save(out_dir, "gridsample",
         [helper.make_node("GridSample", ["images", "grid"], ["warped"])],
         [image_input("nchw")],
         [helper.make_tensor_value_info("warped", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
         [numpy_helper.from_array(grid, "grid")], opset=16)

    # For `iris bench model`: a small conv net with a free batch, 3x3 convs on 3x128x128.
    rng = np.random.default_rng(0)
    nodes, inits, x, channels = [], [], "images", 3
    for i, (out_c, stride) in enumerate([(16, 1), (32, 2), (32, 1), (64, 2)]):
        w = rng.normal(0, 0.1, (out_c, channels, 3, 3)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"conv{i}_W"),
                  numpy_helper.from_array(np.zeros(out_c, np.float32), f"conv{i}_b")]
        nodes += [helper.make_node("Conv", [x, f"conv{i}_W", f"conv{i}_b"], [f"conv{i}"],
                                   kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[stride] * 2),
                  helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"])]
        x, channels = f"relu{i}", out_c
    nodes += [helper.make_node("GlobalAveragePool", [x], ["pooled"]),
              helper.make_node("Flatten", ["pooled"], ["features"])]
    save(out_dir, "bench_convnet", nodes, [image_input("nchw", "N", (128, 128))],
         [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", channels])], inits)

    with open(os.path.join(out_dir, "garbage.onnx"), "wb") as f:
        f.write(bytes(range(256)) * 4)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
