#!/usr/bin/env python3
"""Speed levers vs accuracy on every bench dataset, one thread, in one run.

Each variant (detector / recogniser model, language → CTC head pruning, detector input size)
reads every headline item plus the A4 page in ONE `levers` process
(target/release/levers; model loading excluded from the per-file seconds), then score.py scores
each dataset. Writes bench/work/levers.json; bench/sections/levers.py renders the table.

Usage: bench/levers.py [--variants NAME,NAME…]
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
spec = importlib.util.spec_from_file_location("bench_main", BENCH / "bench.py")
bench = importlib.util.module_from_spec(spec)
sys.modules["bench_main"] = bench
spec.loader.exec_module(bench)

# name → (levers arguments, what it is). The detector's defaults (area ≤ 1.7 MP, 1 MP strips) apply
# unless a variant says otherwise; `…-before` variants run the detector as it was before issue 12
# (long side ≤ 2000, no area cap, 1 MP strips).
BEFORE = ["--det-max-pixels", "0", "--det-tile", "1048576"]
VARIANTS = {
    "small": (["--det", "small", "--rec", "small", "--language", "auto", "--runtime", "rten"] + BEFORE,
              "small on rten, full head, detector as before"),
    "small-en-ort-before": (["--det", "small", "--rec", "small", "--language", "L", "--runtime", "onnxruntime"] + BEFORE,
                            "small, pruned head, onnxruntime, detector as before (the native default before)"),
    "small-en-ort": (["--det", "small", "--rec", "small", "--language", "L", "--runtime", "onnxruntime"],
                     "small, pruned head, onnxruntime (the native default)"),
    "tiny-en-ort-before": (["--det", "tiny", "--rec", "tiny", "--language", "L", "--runtime", "onnxruntime"] + BEFORE,
                           "tiny, pruned head, onnxruntime, detector as before"),
    "tiny-en-ort": (["--det", "tiny", "--rec", "tiny", "--language", "L", "--runtime", "onnxruntime"],
                    "tiny, pruned head, onnxruntime"),
    # The int8 recogniser (`make models`, scripts/quantize-models.sh): onnxruntime only.
    "small-en-ort-int8": (["--det", "small", "--rec", "small", "--language", "L", "--runtime", "onnxruntime", "--int8"],
                          "small, int8 recogniser (pruned head), onnxruntime"),
    # Detector strips of 0.5 MP instead of 1 MP (`--det-tile`): the server's peak memory.
    "small-en-ort-strips-0.5": (["--det", "small", "--rec", "small", "--language", "L", "--runtime", "onnxruntime",
                                 "--det-tile", "524288"], "small, pruned head, onnxruntime, detector strips ≤ 0.5 MP"),
    "tiny-en-ort-strips-0.5": (["--det", "tiny", "--rec", "tiny", "--language", "L", "--runtime", "onnxruntime",
                                "--det-tile", "524288"], "tiny, pruned head, onnxruntime, detector strips ≤ 0.5 MP"),
    "small-en-ort-strips-0.75": (["--det", "small", "--rec", "small", "--language", "L", "--runtime", "onnxruntime",
                                  "--det-tile", "786432"], "small, pruned head, onnxruntime, detector strips ≤ 0.75 MP"),
    "tiny-en-ort-strips-0.75": (["--det", "tiny", "--rec", "tiny", "--language", "L", "--runtime", "onnxruntime",
                                 "--det-tile", "786432"], "tiny, pruned head, onnxruntime, detector strips ≤ 0.75 MP"),
    # Small's recogniser behind tiny's detector: small's activations at the server's peak are the detector's.
    "small-en-ort-tiny-det": (["--det", "tiny", "--rec", "small", "--language", "L", "--runtime", "onnxruntime"],
                              "tiny detector, small recogniser (pruned head), onnxruntime"),
    "small-en": (["--det", "small", "--rec", "small", "--language", "L", "--runtime", "rten"],
                 "small, pruned head, rten"),
    "tiny-en": (["--det", "tiny", "--rec", "tiny", "--language", "L", "--runtime", "rten"], "tiny, pruned head, rten"),
    # The confidence-gated cascade: tiny's recogniser reads every line, small's re-reads those below the gate.
    "cascade-tiny-0.9": (["--det", "tiny", "--cascade-gate", "0.9", "--language", "L", "--runtime", "onnxruntime"],
                         "tiny detector, tiny → small recogniser below confidence 0.9, onnxruntime"),
    "cascade-small-0.9": (["--det", "small", "--cascade-gate", "0.9", "--language", "L", "--runtime", "onnxruntime"],
                          "small detector, tiny → small recogniser below confidence 0.9, onnxruntime"),
    "cascade-small-0.95": (["--det", "small", "--cascade-gate", "0.95", "--language", "L", "--runtime", "onnxruntime"],
                           "small detector, tiny → small recogniser below confidence 0.95, onnxruntime"),
    "cascade-small-0.99": (["--det", "small", "--cascade-gate", "0.99", "--language", "L", "--runtime", "onnxruntime"],
                           "small detector, tiny → small recogniser below confidence 0.99, onnxruntime"),
    # Measured once (see the issue-12 notes), kept for reruns: the long side capped at 1280 breaks tiny's lines.
    "small-en-ort-1280": (["--det", "small", "--rec", "small", "--language", "L", "--det-max-side", "1280",
                           "--runtime", "onnxruntime"] + BEFORE,
                          "small, pruned head, onnxruntime, detector long side ≤ 1280"),
    "tiny-en-ort-1280": (["--det", "tiny", "--rec", "tiny", "--language", "L", "--det-max-side", "1280",
                          "--runtime", "onnxruntime"] + BEFORE,
                         "tiny, pruned head, onnxruntime, detector long side ≤ 1280"),
}
DEFAULT = "small-en-ort-before,small-en-ort,small-en-ort-int8,tiny-en-ort-before,tiny-en-ort,small-en,tiny-en"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=DEFAULT)
    args = ap.parse_args()
    binary = bench.target_dir() / "release" / "levers"
    if not binary.is_file():
        print(f"levers: {binary} not built", file=sys.stderr)
        return 1
    items_all, _ = bench.load_items()
    datasets = [d for d in bench.DATASETS if d.headline]
    items = [i for i in items_all if any(d.match(i) for d in datasets)]
    a4 = bench.make_a4_image()
    a4_item = bench.Item(bench.A4_STEM, str(bench.A4_DIR / f"{bench.A4_STEM}.png"), "printed-a4", "eng", "page")
    gt_dirs = bench.build_gt_dirs(items, datasets)
    a4_gt = bench.A4_DIR / "gt"  # made by bench.py's A4 run; rebuilt here when missing
    if not (a4_gt / f"{bench.A4_STEM}.txt").exists():
        a4_gt.mkdir(parents=True, exist_ok=True)
        for src, dst in ((a4_item.file, f"{bench.A4_STEM}.png"), (bench.TESTDATA / f"{bench.A4_SRC}.txt",
                                                                   f"{bench.A4_STEM}.txt")):
            if not (a4_gt / dst).exists():
                os.symlink(src, a4_gt / dst)
    env = dict(os.environ, RTEN_NUM_THREADS="1", RAYON_NUM_THREADS="1", OCRCHAT_THREADS="1")
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()), "variants": {}}
    for name in args.variants.split(","):
        largs, what = VARIANTS[name]
        out = bench.WORK / "levers" / name
        res = {"what": what, "args": " ".join(largs), "datasets": {}}
        # One process per language group so every item gets its own language (as bench.py's CLI runs).
        groups: dict[str, list] = {}
        for i in items + [a4_item]:
            lang = bench.ocrchat_language(i) if "L" in largs else "auto"
            groups.setdefault(lang, []).append(i)
        times = {}
        for lang, group in groups.items():
            cmd = [str(binary), "--out", str(out)] + [lang if a == "L" else a for a in largs] + [i.file for i in group]
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
            if p.returncode != 0:
                print(f"levers: {name} failed: {p.stderr[-400:]}", file=sys.stderr)
                return 1
            times.update(json.loads((out / "times.json").read_text()))
        for d in datasets:
            sc = bench.score(gt_dirs[d.key], out)
            stems = [i.stem for i in items if d.match(i)]
            res["datasets"][d.key] = {"total": sc["total"], "s": sum(times[s] for s in stems), "n": len(stems)}
        sc = bench.score(a4_gt, out)
        res["a4"] = {"s": times[bench.A4_STEM], "score": sc["items"].get(bench.A4_STEM)}
        result["variants"][name] = res
        # Written after every variant: a long run stopped midway keeps what it measured.
        (bench.WORK / "levers.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
        print(f"levers: {name}: A4 {times[bench.A4_STEM]:.2f} s, "
              + ", ".join(f"{k} CER {v['total']['cer'] if v['total'] else '?'}" for k, v in res["datasets"].items()),
              flush=True)
    path = bench.WORK / "levers.json"
    path.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"levers: wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
