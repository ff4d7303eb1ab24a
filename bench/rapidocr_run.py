#!/usr/bin/env python3
"""Reference OCR pipeline for the benchmark: rapidocr 3.10.0 + onnxruntime, fully offline.

usage:
  rapidocr_run.py [--threads N] [--no-cls] [--timings JSON] -o OUT IMG [IMG ...]
  rapidocr_run.py --verify

With one IMG and OUT ending in ".txt", the text goes to OUT; otherwise OUT is a directory and
each image's text goes to OUT/<stem>.txt. Text = rapidocr's lines joined by "\n", in rapidocr's
own order (sort by rows, then x): that is "the reference".

Offline guarantee: the det/cls/rec model paths are set explicitly to the ONNX files bundled in
the rapidocr wheel (PP-OCRv6 small det/rec, mobile v2.0 cls), so rapidocr never reaches its
download branch; as a belt-and-braces guard, its downloader is replaced by one that raises.
`--verify` checks the bundled files' sha256 against rapidocr's own default_models.yaml.
"""
import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import rapidocr
from rapidocr.utils import download_file

PKG = Path(rapidocr.__file__).resolve().parent
MODELS = {
    "det": PKG / "models" / "PP-OCRv6_det_small.onnx",
    "rec": PKG / "models" / "PP-OCRv6_rec_small.onnx",
    "cls": PKG / "models" / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}


def _no_download(cls, params):  # noqa: ARG001 - signature of DownloadFile.run
    raise RuntimeError(f"rapidocr tried to download {getattr(params, 'file_url', params)}; "
                       "the benchmark must run on the bundled models only")


download_file.DownloadFile.run = classmethod(_no_download)


def verify() -> int:
    """Bundled models exist and match the SHA256 that rapidocr's default_models.yaml lists."""
    text = (PKG / "default_models.yaml").read_text(encoding="utf-8")
    bad = 0
    for kind, path in MODELS.items():
        if not path.is_file():
            print(f"rapidocr: missing bundled model {path.name}", file=sys.stderr)
            bad += 1
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        # the yaml lists "model_dir: <url>/<name>" followed by "SHA256: <hex>"
        lines = text.splitlines()
        want = {lines[i + 1].split(":", 1)[1].strip()
                for i, ln in enumerate(lines[:-1])
                if ln.strip().startswith("model_dir:") and ln.strip().endswith("/" + path.name)}
        ok = digest in want
        bad += not ok
        print(f"rapidocr: {kind} {path.name} sha256={digest[:16]}… "
              f"{'matches default_models.yaml' if ok else 'DOES NOT MATCH default_models.yaml'}")
    return 1 if bad else 0


def make_engine(threads: int, use_cls: bool):
    from rapidocr import RapidOCR
    ort = {"EngineConfig.onnxruntime.intra_op_num_threads": threads,
           "EngineConfig.onnxruntime.inter_op_num_threads": 1} if threads > 0 else {}
    params = {
        "Global.log_level": "warning",
        "Global.use_cls": use_cls,
        "Det.model_path": str(MODELS["det"]),
        "Cls.model_path": str(MODELS["cls"]),
        "Rec.model_path": str(MODELS["rec"]),
        **ort,
    }
    engine = RapidOCR(params=params)
    # rapidocr loads models lazily on first use; load them now so per-call timings are inference only
    for loader in ("_load_det_model", "_load_cls_model", "_load_rec_model"):
        if hasattr(engine, loader):
            getattr(engine, loader)()
    return engine


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="*")
    ap.add_argument("-o", "--out")
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0 = default)")
    ap.add_argument("--no-cls", action="store_true", help="disable the text-line angle classifier")
    ap.add_argument("--timings", help="write per-image seconds (inference only) as JSON here")
    ap.add_argument("--verify", action="store_true")
    a = ap.parse_args()
    if a.verify:
        return verify()
    if not a.images or not a.out:
        ap.error("need -o OUT and at least one image")
    t0 = time.perf_counter()
    engine = make_engine(a.threads, not a.no_cls)
    load_s = time.perf_counter() - t0
    single = len(a.images) == 1 and a.out.endswith(".txt")
    if not single:
        os.makedirs(a.out, exist_ok=True)
    timings = {"load_s": load_s, "items": {}}
    for img in a.images:
        t = time.perf_counter()
        res = engine(img)
        dt = time.perf_counter() - t
        txts = list(getattr(res, "txts", None) or [])
        out = a.out if single else os.path.join(a.out, Path(img).stem + ".txt")
        with open(out, "w", encoding="utf-8") as f:
            f.write("\n".join(txts) + ("\n" if txts else ""))
        timings["items"][Path(img).stem] = dt
    if a.timings:
        with open(a.timings, "w", encoding="utf-8") as f:
            json.dump(timings, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
