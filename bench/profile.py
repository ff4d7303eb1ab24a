#!/usr/bin/env python3
"""Where the time goes on the A4 page: per stage (both runtimes) and per rten operator, one thread.

For each (model, language) variant, one cold `ocrchat ocr` process reads the A4 page with
`OCRCHAT_LOG=…ocrchat_engine=debug` (the engine logs one `stage: …` line per stage with its
milliseconds) and a second one with `RTEN_TIMING=1` (rten prints every graph run's per-operator
times to stdout; runs containing Resize/ConvTranspose are the detector's). Writes
bench/work/profile.json; bench/sections/profile.py renders it into results.md.

Usage: bench/profile.py [--variants tiny:en,small:en,tiny:auto] [--image PATH]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / "work"
A4 = WORK / "a4" / "a4_tess_8087_054.3B.png"

STAGE_RE = re.compile(r"stage: (\w+)(.*)$")
FIELD_RE = re.compile(r"(\w+)=([0-9.]+)")
OP_RE = re.compile(r"^(\S+)\s+([0-9.]+)ms\s+\(")
RUN_RE = re.compile(r"^(\d+) ops evaluated in ([0-9.]+)ms")


def env_one_thread(extra: dict) -> dict:
    env = dict(os.environ)
    env.update({"RTEN_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1", "OCRCHAT_THREADS": "1"})
    env.update(extra)
    return env


def run_cli(binary: Path, image: Path, model: str, language: str, runtime: str,
            extra_env: dict) -> tuple[float, str, str]:
    out = WORK / "profile" / f"{model}_{language}_{runtime}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(binary), "ocr", str(image), "--format", "txt", "--model", model, "--language", language,
           "--runtime", runtime, "-o", str(out)]
    before = os.times()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env_one_thread(extra_env), timeout=600)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {p.stderr[-500:]}")
    return cpu, p.stdout, p.stderr


def parse_stages(stderr: str) -> dict:
    """Sums each stage's fields over the run (orientation trials call detect/recognise again)."""
    stages: dict = defaultdict(lambda: defaultdict(float))
    for line in stderr.splitlines():
        m = STAGE_RE.search(line)
        if not m:
            continue
        stage = stages[m.group(1)]
        stage["calls"] += 1
        for k, v in FIELD_RE.findall(m.group(2)):
            if k.endswith("ms") or k in ("lines", "reread"):
                stage[k] += float(v)
    return {k: dict(v) for k, v in stages.items()}


def parse_ops(stdout: str) -> dict:
    """Per-operator milliseconds summed over the runs of each network."""
    nets = {"det": defaultdict(float), "rec": defaultdict(float)}
    runs = {"det": 0, "rec": 0}
    current: dict = {}

    def flush():
        if current:
            net = "det" if ("Resize" in current or "ConvTranspose" in current) else "rec"
            runs[net] += 1
            for op, ms in current.items():
                nets[net][op] += ms

    for line in stdout.splitlines():
        if RUN_RE.match(line):
            flush()
            current = {}
            continue
        m = OP_RE.match(line)
        if m and not line.startswith(" "):
            current[m.group(1)] = current.get(m.group(1), 0.0) + float(m.group(2))
    flush()
    return {net: {"runs": runs[net], "ops": dict(sorted(ops.items(), key=lambda kv: -kv[1]))}
            for net, ops in nets.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="tiny:en:onnxruntime,small:en:onnxruntime,tiny:en:rten,small:en:rten,"
                    "small:auto:onnxruntime",
                    help="comma-separated model:language:runtime triples")
    ap.add_argument("--image", type=Path, default=A4)
    ap.add_argument("--bin", type=Path, default=Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
                    / "release" / "ocrchat")
    args = ap.parse_args()
    if not args.image.is_file():
        print(f"profile: {args.image} missing (bench.py builds it)", file=sys.stderr)
        return 1
    result = {"image": str(args.image.relative_to(REPO)) if args.image.is_relative_to(REPO) else args.image.name,
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()), "variants": []}
    log = {"OCRCHAT_LOG": "warn,ocrchat_engine=debug,ocrchat=debug"}
    for v in args.variants.split(","):
        model, language, runtime = v.split(":")
        cpu, _, stderr = run_cli(args.bin, args.image, model, language, runtime, log)
        # rten's per-operator timing (onnxruntime's own profiler is not wired in)
        stdout = run_cli(args.bin, args.image, model, language, runtime, {"RTEN_TIMING": "1"})[1] \
            if runtime == "rten" else ""
        entry = {"model": model, "language": language, "runtime": runtime, "cpu_s": round(cpu, 3),
                 "stages": parse_stages(stderr), "ops": parse_ops(stdout)}
        result["variants"].append(entry)
        print(f"profile: {model}/{language}/{runtime}: {cpu:.2f} s CPU", flush=True)
    out = WORK / "profile.json"
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"profile: wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
