#!/usr/bin/python3
"""Exports the YOLOv8n-shaped network of bench/models/yolov8n.py the plain way (torch.onnx.export,
do_constant_folding=False, opset 17) at a small size, with PyTorch's own output on a fixed input,
for tests/runtime/torch_export_test.cc.

usage: export_yolov8n.py OUT_DIR SIZE
Writes OUT_DIR/yolov8n.onnx, input.bin and output.bin (raw little-endian float32).
Exit status 3 when python3-torch is missing (the test then skips).
"""

import os
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                                "models"))
try:
    import torch
except ImportError:
    sys.exit(3)
import yolov8n  # noqa: E402


def main(out_dir, size):
    warnings.filterwarnings("ignore", category=UserWarning, module="torch.onnx")
    model = yolov8n.build(0)
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, x, os.path.join(out_dir, "yolov8n.onnx"), opset_version=17,
                      do_constant_folding=False, input_names=["images"],
                      output_names=["output0"])
    x.numpy().tofile(os.path.join(out_dir, "input.bin"))
    y.numpy().tofile(os.path.join(out_dir, "output.bin"))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]))
