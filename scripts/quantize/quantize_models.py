#!/usr/bin/env python3
"""Static int8 quantisation of the small PP-OCRv6 recogniser (`rec.onnx` → `rec.int8.onnx`).

Run by scripts/quantize-models.sh in a venv of pinned PyPI packages. Per-channel int8 weights and
uint8 activations in the QDQ format, which onnxruntime runs as integer kernels (its
`ConvInteger` path from dynamic quantisation is slower than float; see bench/results.md). The
CTC head (the last MatMul, before the Softmax) stays float so the engine can still prune it to a
language's characters at load time, and so do the last six convolutions (the neck the head
reads): quantising them cost receipts and single lines accuracy (measured with bench/levers.py:
with them float, printed pages and the A4 page read slightly better than float, receipts' CER is
the same though their BoW-F1 is still 0.025 lower; the A4 page is read 1.5x faster instead of 1.7x).

Calibration needs no image from outside: the lines of calibration.txt rendered with Pillow's own
font (Aileron, bundled with the wheel) at three sizes, half of them blurred like a scan. The
activation ranges are rounded to 4 significant digits before the scales are computed, so the last
bits of the float calibration run (which can differ between CPUs) do not change the output bytes.

Usage: quantize_models.py SRC_ONNX DST_ONNX CALIBRATION_TXT
"""
import hashlib
import importlib
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import version_converter
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HEIGHT = 48  # PP-OCR recognisers' input height
FLOAT_TAIL_CONVS = 6  # the last convolutions, kept float (see the module docs)


def render_lines(text_path):
    """Calibration inputs: each line at 24/32/40 px, every other one blurred, as [1, 3, 48, W] tensors."""
    lines = [l.rstrip("\n") for l in open(text_path, encoding="utf-8") if l.strip()]
    out = []
    for i, line in enumerate(lines):
        font = ImageFont.load_default(size=(24, 32, 40)[i % 3])
        left, top, right, bottom = font.getbbox(line)
        img = Image.new("RGB", (right - left + 16, bottom - top + 16), "white")
        ImageDraw.Draw(img).text((8 - left, 8 - top), line, font=font, fill=(20, 20, 20))
        if i % 2:
            img = img.filter(ImageFilter.GaussianBlur(0.8))
        width = max(HEIGHT, int(np.ceil(HEIGHT * img.width / img.height)))
        a = np.asarray(img.resize((width, HEIGHT), Image.BILINEAR), dtype=np.float32) / 255.0
        out.append(((a - 0.5) / 0.5).transpose(2, 0, 1)[None].copy())
    return out


class Lines(CalibrationDataReader):
    def __init__(self, name, tensors):
        self.items = iter([{name: t} for t in tensors])

    def get_next(self):
        return next(self.items, None)


def head_matmul(model):
    """The CTC head: the MatMul feeding (through its bias Add) the Softmax that is the graph's output.
    Attention layers have MatMul → Softmax too; only the output's chain is the head."""
    producer = {o: n for n in model.graph.node for o in n.output}
    node = producer.get(model.graph.output[0].name)
    while node is not None and node.op_type in ("Softmax", "Add", "Identity"):
        node = producer.get(node.input[0])
    if node is None or node.op_type != "MatMul":
        raise SystemExit("quantize: the output is not MatMul → Add → Softmax")
    return node.name


def round_4g(values):
    """Each value to 4 significant digits, same shape and dtype."""
    rounded = [float(f"{float(v):.4g}") for v in values.ravel()]
    return np.array(rounded, dtype=values.dtype).reshape(values.shape)


def rounded_calibrator(create):
    """Wraps onnxruntime's create_calibrator so that compute_data() rounds every range."""
    def wrapped(*args, **kwargs):
        calibrator = create(*args, **kwargs)
        compute = calibrator.compute_data

        def compute_rounded():
            data = compute()
            for td in data.data.values():
                td.lowest, td.highest = round_4g(td.lowest), round_4g(td.highest)
            return data
        calibrator.compute_data = compute_rounded
        return calibrator
    return wrapped


def main():
    src, dst, text = sys.argv[1:4]
    model = onnx.load(src)
    # Per-channel DequantizeLinear needs opset ≥ 13; the wheel's graph is opset 11.
    if max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) < 13:
        model = version_converter.convert_version(model, 17)
    for i, n in enumerate(model.graph.node):  # nodes_to_exclude needs names
        if not n.name:
            n.name = f"{n.op_type}_{i}"
    head = head_matmul(model)
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    keep_float = [head] + convs[-FLOAT_TAIL_CONVS:]
    name = model.graph.input[0].name
    tensors = render_lines(text)
    # quantize_static looks create_calibrator up in its own module.
    ort_quantize = importlib.import_module("onnxruntime.quantization.quantize")
    ort_quantize.create_calibrator = rounded_calibrator(ort_quantize.create_calibrator)
    with tempfile.TemporaryDirectory() as tmp:
        pre = os.path.join(tmp, "rec.onnx")
        onnx.save(model, pre)
        out = os.path.join(tmp, "rec.int8.onnx")
        quantize_static(pre, out, Lines(name, tensors), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=["Conv", "MatMul"], nodes_to_exclude=keep_float,
                        calibrate_method=CalibrationMethod.MinMax)
        ort.InferenceSession(out, providers=["CPUExecutionProvider"])  # loads, or fail here
        os.replace(out, dst + ".tmp")
    os.replace(dst + ".tmp", dst)
    print(hashlib.sha256(open(dst, "rb").read()).hexdigest())


if __name__ == "__main__":
    main()
