#!/usr/bin/env python3
"""OCR accuracy/speed benchmark: runs several engines on the same shared test files and writes
bench/results.md.

Engines (each skipped, with a reason in results.md, when its binary/script is missing):
  tesseract            Debian Tesseract 5, --oem 1, --psm 3 (psm 7 for single-line items)
  rapidocr             rapidocr 3.10.0 + onnxruntime, bundled PP-OCRv6 small models ("the reference")
  ocrchat-small/-tiny  target/release/ocrchat ocr FILE --format txt --model small|tiny -o OUT.txt
  ocrchat-wasm-tiny/-small   node bench/wasm_ocr.mjs FILE OUT.txt --model tiny|small

Usage: bench.py [--engines a,b] [--datasets a,b] [--threads N] [--timeout S] [--repeat N]
                [--no-warm] [--report-only]
Called by bench/run.sh, which prepares Tesseract and the Python venv first.

Layout under bench/work/: out/<engine>/<stem>.txt (cold outputs, the ones scored),
out-warm/<engine>/<dataset>/, logs/<engine>/<stem>.{out,err}, gt/<dataset>/ (symlinks for
score.py), raw.json (all measurements; --report-only re-renders results.md from it).

results.md is assembled from "sections": functions registered with @section below, followed by
any bench/sections/*.py module that defines `render(ctx) -> str` (in file-name order), so other
benchmarks can add their own part without touching this file.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import glob
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, asdict
from pathlib import Path
from typing import Callable, Optional

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SHARED = Path(os.environ.get("BENCH_SHARED", REPO.parent / "shared")).resolve()
TESTDATA = SHARED / "testdata"
SCORE_PY = SHARED / "tools" / "score.py"
WORK = BENCH / "work"
VENV_PY = WORK / "venv" / "bin" / "python"
RESULTS = BENCH / "results.md"
RAW = WORK / "raw.json"
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


# --------------------------------------------------------------------------- datasets

@dataclass
class Item:
    stem: str
    file: str          # absolute path of the image
    category: str
    language: str
    unit: str          # page | line | snippet | ...


@dataclass
class Dataset:
    key: str
    title: str
    match: Callable[[Item], bool]
    headline: bool = True
    note: str = ""


DATASETS = [
    Dataset("printed", "Printed pages",
            lambda i: i.category.startswith(("printed-clean", "printed-magazine-multicolumn",
                                             "printed-synthetic-short")),
            note="tess_phototest, tess_eurotext, the two UNLV magazine pages, tjs_chinese (chi_tra)"),
    Dataset("receipts", "Scanned receipts (SROIE)", lambda i: i.category == "receipt-scanned",
            note="GT is upper-case and in annotator box order: BoW-F1 matters more than CER"),
    Dataset("lines", "Single printed text lines", lambda i: i.category == "printed-line",
            note="uw3_* (English) and cyr_* (Russian; PP-OCRv6 has no Cyrillic)"),
    Dataset("multicolumn", "Multi-column pages (reading order)",
            lambda i: i.stem.startswith(("tess_8071", "tess_8087")),
            note="UNLV pages, GT in zone (column) order: CER and order reflect layout analysis"),
    Dataset("other", "Not in the headline: handwriting and Devanagari",
            lambda i: i.category in ("handwriting-line", "printed-book"), headline=False,
            note="no engine here is meant for these; listed for completeness"),
]


def load_items() -> tuple[list[Item], list[str]]:
    items, skipped = [], []
    with open(TESTDATA / "manifest.tsv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            path = TESTDATA / row["file"]
            stem = Path(row["file"]).stem
            if path.suffix.lower() not in IMAGE_EXT:
                skipped.append(f"{row['file']} ({row['category']}: not an image, engines here read images)")
                continue
            if not path.is_file() or not (TESTDATA / row["gt_file"]).is_file():
                skipped.append(f"{row['file']} (file or ground truth missing)")
                continue
            items.append(Item(stem, str(path), row["category"], row["language"], row["unit"]))
    return items, skipped


# --------------------------------------------------------------------------- engines

def thread_env(threads: int) -> dict:
    """Environment that pins every engine to the same thread count (0 = engines' defaults)."""
    env = dict(os.environ)
    if threads > 0:
        for k in ("OMP_THREAD_LIMIT", "OMP_NUM_THREADS", "RTEN_NUM_THREADS", "RAYON_NUM_THREADS",
                  "OCRCHAT_THREADS"):
            env[k] = str(threads)
    return env


def run_version(cmd: list[str], timeout: float = 20) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
        out = (p.stdout or p.stderr).strip().splitlines()
        return out[0].strip() if out and p.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class Engine:
    name = ""
    warm_supported = False

    def unavailable(self) -> Optional[str]:
        """None when runnable, else a one-line reason."""
        return None

    def cold_cmd(self, item: Item, out_txt: Path) -> list[str]:
        raise NotImplementedError

    def warm_cmd(self, items: list[Item], out_dir: Path, timings: Path) -> Optional[list[str]]:
        return None

    def version(self) -> str:
        return ""

    def describe(self) -> str:
        return ""


class Tesseract(Engine):
    name = "tesseract"

    def __init__(self):
        self.bin = shutil.which("tesseract")
        self._langs: Optional[set] = None

    def langs(self) -> set:
        if self._langs is None:
            self._langs = set()
            if self.bin:
                try:
                    p = subprocess.run([self.bin, "--list-langs"], capture_output=True, text=True, timeout=30)
                    self._langs = {ln.strip() for ln in p.stdout.splitlines()[1:] if ln.strip()}
                except (OSError, subprocess.SubprocessError):
                    pass
        return self._langs

    def unavailable(self):
        if not self.bin:
            return "`tesseract` not on PATH (bench/run.sh installs the Debian package tesseract-ocr)"
        if "eng" not in self.langs():
            return "tesseract has no `eng` traineddata"
        return None

    def lang_for(self, item: Item) -> str:
        lang = item.language.lower()
        for code in ("chi_tra", "chi_sim", "rus"):
            if lang.startswith(code) and code in self.langs():
                return code
        return "eng"

    @staticmethod
    def psm_for(item: Item) -> str:
        return "7" if item.unit == "line" else "3"

    def cold_cmd(self, item, out_txt):
        # tesseract appends ".txt" to the output base itself
        return [self.bin, item.file, str(out_txt.with_suffix("")), "--oem", "1",
                "--psm", self.psm_for(item), "-l", self.lang_for(item)]

    def version(self):
        return run_version([self.bin, "--version"]) if self.bin else ""

    def describe(self):
        extra = sorted(self.langs() & {"chi_tra", "chi_sim", "rus"})
        return ("`--oem 1 --psm 3` (`--psm 7` for unit=line items), `-l eng`"
                + (f"; items whose manifest language is {', '.join(extra)} use that pack" if extra else "")
                + ". Tesseract has no separate warm mode here (its model load is a small share).")


class RapidOCR(Engine):
    name = "rapidocr"
    warm_supported = True

    def __init__(self, threads: int):
        self.threads = threads
        self.script = BENCH / "rapidocr_run.py"

    def unavailable(self):
        if not VENV_PY.exists():
            return "venv bench/work/venv missing (bench/run.sh creates it)"
        p = subprocess.run([str(VENV_PY), "-c", "import rapidocr, onnxruntime"], capture_output=True, timeout=120)
        if p.returncode != 0:
            return "rapidocr/onnxruntime not importable in bench/work/venv"
        return None

    def _base(self):
        return [str(VENV_PY), str(self.script), "--threads", str(self.threads)]

    def cold_cmd(self, item, out_txt):
        return self._base() + ["-o", str(out_txt), item.file]

    def warm_cmd(self, items, out_dir, timings):
        return self._base() + ["--timings", str(timings), "-o", str(out_dir)] + [i.file for i in items]

    def version(self):
        return run_version([str(VENV_PY), "-c",
                            "from importlib.metadata import version as v; "
                            "print(f\"rapidocr {v('rapidocr')}, onnxruntime {v('onnxruntime')}\")"], timeout=120)

    def describe(self):
        return ("rapidocr defaults (det limit_type=min 736, box_thresh 0.5, unclip 1.6, text_score 0.5, "
                "angle classifier on) with model paths set explicitly to the wheel's bundled "
                "`PP-OCRv6_det_small.onnx`, `PP-OCRv6_rec_small.onnx`, `ch_ppocr_mobile_v2.0_cls_mobile.onnx` "
                "(sha256 checked against rapidocr's default_models.yaml; its downloader is disabled). "
                "Text = `result.txts` joined by newlines in rapidocr's own order.")


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))


class OcrchatCli(Engine):
    warm_supported = True

    def __init__(self, model: str):
        self.model = model
        self.name = f"ocrchat-{model}"
        self.bin = target_dir() / "release" / "ocrchat"

    def unavailable(self):
        if not os.access(self.bin, os.X_OK):
            return f"`{os.path.relpath(self.bin, REPO)}` not built (cargo build --release)"
        return None

    def cold_cmd(self, item, out_txt):
        return [str(self.bin), "ocr", item.file, "--format", "txt", "--model", self.model, "-o", str(out_txt)]

    def warm_cmd(self, items, out_dir, timings):
        # several FILE args: the CLI writes OUTDIR/<stem>.txt for each
        return ([str(self.bin), "ocr"] + [i.file for i in items]
                + ["--format", "txt", "--model", self.model, "-o", str(out_dir) + os.sep])

    def version(self):
        return run_version([str(self.bin), "--version"]) if not self.unavailable() else ""

    def describe(self):
        return f"native CLI, `--model {self.model}`"


class OcrchatWasm(Engine):
    def __init__(self, model: str):
        self.model = model
        self.name = f"ocrchat-wasm-{model}"
        self.script = BENCH / "wasm_ocr.mjs"
        self.node = shutil.which("node")

    def unavailable(self):
        if not self.node:
            return "`node` not on PATH"
        if not self.script.is_file():
            return "bench/wasm_ocr.mjs not present yet"
        return None

    def cold_cmd(self, item, out_txt):
        return [self.node, str(self.script), item.file, str(out_txt), "--model", self.model]

    def version(self):
        return run_version([self.node, "--version"]) if self.node else ""

    def describe(self):
        return f"wasm engine under Node, `--model {self.model}` (no warm mode)"


def make_engines(threads: int) -> list[Engine]:
    return [Tesseract(), RapidOCR(threads), OcrchatCli("small"), OcrchatCli("tiny"),
            OcrchatWasm("tiny"), OcrchatWasm("small")]


# --------------------------------------------------------------------------- measuring

@dataclass
class Run:
    wall_s: float
    maxrss_mb: float
    rc: int
    timed_out: bool
    err_tail: str = ""


def run_measured(cmd: list[str], timeout: float, env: dict, log_base: Path) -> Run:
    """Run cmd in its own process group; wall time and the child's own peak RSS via os.wait4
    (Linux reports the max over the child and the descendants it reaped)."""
    log_base.parent.mkdir(parents=True, exist_ok=True)
    out_p, err_p = log_base.with_suffix(".out"), log_base.with_suffix(".err")
    killed = threading.Event()
    with open(out_p, "wb") as out, open(err_p, "wb") as err:
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                 cwd=REPO, start_new_session=True)
        except OSError as e:
            return Run(0.0, 0.0, 127, False, str(e))

        def kill():
            killed.set()
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    try:  # leftover grandchildren of a killed run
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    tail = ""
    if p.returncode != 0 or killed.is_set():
        tail = " ".join(err_p.read_text(errors="replace").strip().splitlines()[-3:])[-300:]
    return Run(wall, ru.ru_maxrss / 1024.0, p.returncode, killed.is_set(), tail)


def measure(ctx: dict, engines: list[Engine], items: list[Item], datasets: list[Dataset], args) -> None:
    env = thread_env(args.threads)
    raw = ctx["raw"]
    cold = raw["cold"]            # engine -> stem -> run dict
    warm = raw["warm"]            # engine -> dataset -> {wall_s, maxrss_mb, rc, pages, calls_s, identical}
    live = [e for e in engines if e.name not in raw["skipped"]]
    for e in live:
        d = WORK / "out" / e.name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        cold[e.name] = {}
    failures: dict[str, int] = {e.name: 0 for e in live}
    # engines interleaved per file, so background load on a shared machine hits all of them alike
    for n, item in enumerate(items, 1):
        for e in live:
            if e.name in raw["skipped"]:
                continue
            out_txt = WORK / "out" / e.name / f"{item.stem}.txt"
            best: Optional[Run] = None
            for _ in range(args.repeat):
                out_txt.unlink(missing_ok=True)
                r = run_measured(e.cold_cmd(item, out_txt), args.timeout, env,
                                 WORK / "logs" / e.name / item.stem)
                if best is None or (r.rc == 0 and r.wall_s < best.wall_s) or best.rc != 0:
                    best = r
                if r.rc != 0:
                    break
            ok = best.rc == 0 and out_txt.exists()
            cold[e.name][item.stem] = asdict(best) | {"ok": ok}
            status = "ok" if ok else ("TIMEOUT" if best.timed_out else f"rc={best.rc}")
            print(f"[{n}/{len(items)}] {e.name:20s} {item.stem:28s} {best.wall_s:7.2f}s "
                  f"{best.maxrss_mb:7.0f}MB {status}", flush=True)
            if not ok:
                failures[e.name] += 1
                first = len(cold[e.name]) == 1
                if first or failures[e.name] >= 3:
                    why = "first run failed" if first else "3 runs failed"
                    raw["skipped"][e.name] = f"{why} ({status}): {best.err_tail or 'no stderr'}"
                    print(f"  -> skipping {e.name}: {raw['skipped'][e.name]}", flush=True)
    if args.no_warm:
        return
    for e in live:
        if not e.warm_supported or e.name in raw["skipped"]:
            continue
        warm[e.name] = {}
        for ds in datasets:
            ds_items = [i for i in items if ds.match(i)]
            if not ds_items:
                continue
            out_dir = WORK / "out-warm" / e.name / ds.key
            shutil.rmtree(out_dir, ignore_errors=True)
            out_dir.mkdir(parents=True)
            timings = out_dir / "_timings.json"
            cmd = e.warm_cmd(ds_items, out_dir, timings)
            r = run_measured(cmd, args.timeout + 120 * len(ds_items), env,
                             WORK / "logs" / e.name / f"_warm_{ds.key}")
            same = sum(1 for i in ds_items
                       if (out_dir / f"{i.stem}.txt").exists()
                       and (WORK / "out" / e.name / f"{i.stem}.txt").exists()
                       and (out_dir / f"{i.stem}.txt").read_bytes()
                       == (WORK / "out" / e.name / f"{i.stem}.txt").read_bytes())
            calls = None
            if timings.exists():
                calls = sum(json.loads(timings.read_text())["items"].values())
            warm[e.name][ds.key] = asdict(r) | {"pages": len(ds_items), "calls_s": calls,
                                                "identical": same}
            print(f"[warm] {e.name:20s} {ds.key:12s} {r.wall_s:7.2f}s for {len(ds_items)} items "
                  f"rc={r.rc} identical-to-cold={same}/{len(ds_items)}", flush=True)


# --------------------------------------------------------------------------- scoring

SCORE_LINE = re.compile(r"^(\S+)\s+chars=\s*(\d+)\s+CER=([\d.]+)\s+BoW-F1=([\d.]+)\s+order=(\S+)")
TOTAL_LINE = re.compile(r"^TOTAL items=(\d+) CER=([\d.]+) meanBoW-F1=([\d.]+) order=(\S+)")


def build_gt_dirs(items: list[Item], datasets: list[Dataset]) -> dict[str, Path]:
    dirs = {}
    for ds in datasets:
        d = WORK / "gt" / ds.key
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        for i in items:
            if ds.match(i):
                img = Path(i.file)
                os.symlink(img, d / img.name)
                os.symlink(img.with_suffix(".txt"), d / f"{i.stem}.txt")
        dirs[ds.key] = d
    return dirs


def score(gt_dir: Path, hyp_dir: Path) -> dict:
    py = str(VENV_PY) if VENV_PY.exists() else sys.executable
    p = subprocess.run([py, str(SCORE_PY), str(gt_dir), str(hyp_dir)], capture_output=True,
                       text=True, timeout=600)
    res = {"items": {}, "total": None, "error": p.stderr.strip()[-300:] if p.returncode else ""}
    for ln in p.stdout.splitlines():
        if m := SCORE_LINE.match(ln):
            res["items"][m[1]] = {"chars": int(m[2]), "cer": float(m[3]), "bow": float(m[4]),
                                  "order": None if m[5] == "-" else float(m[5])}
        elif m := TOTAL_LINE.match(ln):
            o = float(m[4])
            res["total"] = {"items": int(m[1]), "cer": float(m[2]), "bow": float(m[3]),
                            "order": None if o != o else o}
    return res


def score_all(ctx: dict, engines: list[Engine], items: list[Item], datasets: list[Dataset]) -> None:
    raw = ctx["raw"]
    gt_dirs = build_gt_dirs(items, datasets)
    raw["scores"] = {}
    for e in engines:
        if e.name not in raw["cold"] or not raw["cold"][e.name]:
            continue
        raw["scores"][e.name] = {ds.key: score(gt_dirs[ds.key], WORK / "out" / e.name)
                                 for ds in datasets if any(ds.match(i) for i in items)}


# --------------------------------------------------------------------------- report

SECTIONS: list[Callable[[dict], str]] = []


def section(fn: Callable[[dict], str]) -> Callable[[dict], str]:
    """Register a results.md section; sections render in registration order."""
    SECTIONS.append(fn)
    return fn


def fmt(v, spec=".3f", none="—"):
    return none if v is None else format(v, spec)


def cpu_model() -> str:
    try:
        for ln in open("/proc/cpuinfo", encoding="utf-8"):
            if ln.startswith("model name"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@section
def section_header(ctx: dict) -> str:
    raw = ctx["raw"]
    m = raw["meta"]
    lines = ["# ocrchat benchmark", "",
             f"Generated by `make bench` (bench/run.sh → bench/bench.py) on {m['date']}.", "",
             f"- Machine: {m['nproc']} CPUs (`nproc`), {m['cpu']}, load average at start {m['loadavg']}"
             f"{', at end ' + m['loadavg_end'] if m.get('loadavg_end') else ''}"
             f"{', bench took ' + str(m['bench_wall_s']) + ' s' if m.get('bench_wall_s') else ''} "
             "(other work on the machine inflates timings: compare engines within one run)",
             f"- Repo: {m['git']}; test data: `shared/testdata` ({m['n_items']} image items)",
             f"- Threads: {m['threads_note']}",
             f"- Timeout per subprocess: {m['timeout']} s; repeats per (engine, file): {m['repeat']} (fastest kept)",
             "", "## Engines", "", "| engine | status | version | settings |", "|---|---|---|---|"]
    for e in raw["engines"]:
        status = "skipped: " + raw["skipped"][e["name"]] if e["name"] in raw["skipped"] else "measured"
        lines.append(f"| {e['name']} | {status} | {e['version'] or '—'} | {e['describe']} |")
    lines += ["", "## How to read the tables", "",
              "- CER: character error rate over the dataset (total edits / total GT chars; whitespace "
              "collapsed, case-folded, CJK without spaces) from `shared/tools/score.py`. "
              "BoW-F1: mean bag-of-words F1 (order-free). Reading order: mean share of consecutive "
              "GT lines (≥ 15 chars) found in order; `—` when no item has ≥ 3 matchable lines.",
              "- s/page (cold): mean wall time of one process per file (start-up and model load "
              "included), as a user running the command once would see it.",
              "- s/page (warm): wall time of ONE process over all the dataset's files ÷ files "
              "(one model load amortised); engines without a multi-file mode show `—`.",
              "- peak RSS: largest `ru_maxrss` of a cold run in the dataset, from `os.wait4` on the "
              "child (includes descendants it reaped).",
              "- speed vs Tesseract: Tesseract's cold s/page ÷ the engine's cold s/page "
              "(> 1 = faster). CER vs Tesseract: engine CER ÷ Tesseract CER (< 1 = more accurate).",
              "- Files are run engine-interleaved (file 1 on every engine, then file 2, …) so "
              "background load on a shared machine affects every engine alike.", ""]
    return "\n".join(lines)


def dataset_rows(ctx: dict, ds: Dataset) -> list[dict]:
    raw = ctx["raw"]
    stems = [i["stem"] for i in raw["items"] if ctx["ds_match"][ds.key](i["stem"])]
    rows = []
    for e in raw["engines"]:
        name = e["name"]
        runs = raw["cold"].get(name, {})
        sc = raw.get("scores", {}).get(name, {}).get(ds.key)
        # failed runs score as empty output (CER 1) but are left out of the timings
        got = [runs[s] for s in stems if s in runs and runs[s]["ok"]]
        if name in raw["skipped"] or not got or not sc or not sc["total"]:
            continue
        w = raw["warm"].get(name, {}).get(ds.key)
        rows.append({
            "engine": name, "cer": sc["total"]["cer"], "bow": sc["total"]["bow"],
            "order": sc["total"]["order"],
            "cold": sum(r["wall_s"] for r in got) / len(got),
            "warm": w["wall_s"] / w["pages"] if w and w["rc"] == 0 else None,
            "rss": max(r["maxrss_mb"] for r in got),
            "ok": f"{len(got)}/{len(stems)}",
        })
    return rows


def render_dataset(ctx: dict, ds: Dataset) -> str:
    raw = ctx["raw"]
    stems = [i["stem"] for i in raw["items"] if ctx["ds_match"][ds.key](i["stem"])]
    if not stems:
        return ""
    rows = dataset_rows(ctx, ds)
    out = [f"## {ds.title} (`{ds.key}`, {len(stems)} files)", "", ds.note + ".", "",
           "Files: " + ", ".join(f"`{s}`" for s in stems), ""]
    if not rows:
        return "\n".join(out + ["No engine produced results.", ""])
    tess = next((r for r in rows if r["engine"] == "tesseract"), None)
    out += ["| engine | CER | BoW-F1 | reading order | s/page (cold, per process) | s/page (warm) "
            "| peak RSS MB | speed vs Tesseract | CER vs Tesseract | runs ok |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        speed = f"{tess['cold'] / r['cold']:.2f}x" if tess and r["cold"] > 0 else "—"
        cer_rel = f"{r['cer'] / tess['cer']:.2f}x" if tess and tess["cer"] > 0 else "—"
        out.append(f"| {r['engine']} | {r['cer']:.4f} | {r['bow']:.4f} | {fmt(r['order'])} | "
                   f"{r['cold']:.2f} | {fmt(r['warm'], '.2f')} | {r['rss']:.0f} | {speed} | {cer_rel} | {r['ok']} |")
    notes = []
    for e in raw["engines"]:
        w = raw["warm"].get(e["name"], {}).get(ds.key)
        if not w:
            continue
        if w["rc"] != 0:
            notes.append(f"{e['name']} warm run failed (rc={w['rc']}{', timeout' if w['timed_out'] else ''}): "
                         f"{w['err_tail']}")
            continue
        bits = [f"warm process peak RSS {w['maxrss_mb']:.0f} MB",
                f"output identical to cold on {w['identical']}/{w['pages']} files"]
        if w.get("calls_s") is not None:
            bits.insert(0, f"in-process inference only (models preloaded) {w['calls_s'] / w['pages']:.2f} s/page")
        notes.append(f"{e['name']}: " + ", ".join(bits))
    if notes:
        out += [""] + [f"- {n}" for n in notes]
    return "\n".join(out + [""])


@section
def section_datasets(ctx: dict) -> str:
    return "\n".join(render_dataset(ctx, ds) for ds in ctx["datasets"])


@section
def section_per_item(ctx: dict) -> str:
    raw = ctx["raw"]
    names = [e["name"] for e in raw["engines"] if raw["cold"].get(e["name"])]
    if not names:
        return ""
    out = ["## Per file (CER / cold seconds)", "",
           "| file | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for i in raw["items"]:
        cells = []
        for n in names:
            run = raw["cold"][n].get(i["stem"])
            sc = None
            for ds_scores in raw.get("scores", {}).get(n, {}).values():
                sc = sc or ds_scores["items"].get(i["stem"])
            if run is None:
                cells.append("—")
            elif not run["ok"]:
                cells.append("timeout" if run["timed_out"] else f"fail rc={run['rc']}")
            else:
                cells.append(f"{fmt(sc and sc['cer'])} / {run['wall_s']:.1f}")
        out.append(f"| {i['stem']} | " + " | ".join(cells) + " |")
    if raw["not_run"]:
        out += ["", "Not run: " + "; ".join(raw["not_run"]) + "."]
    return "\n".join(out + [""])


def plugin_sections() -> list[Callable[[dict], str]]:
    fns = []
    for path in sorted(glob.glob(str(BENCH / "sections" / "*.py"))):
        spec = importlib.util.spec_from_file_location(f"bench_section_{Path(path).stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        if callable(getattr(mod, "render", None)):
            fns.append(mod.render)
    return fns


def write_results(ctx: dict) -> None:
    parts = []
    for fn in SECTIONS + plugin_sections():
        try:
            text = fn(ctx)
        except Exception as e:  # one broken section must not lose the others
            text = f"## {fn.__name__}\n\nsection failed: {e!r}\n"
        if text:
            parts.append(text.rstrip() + "\n")
    fd, tmp = tempfile.mkstemp(prefix=".results.", suffix=".md", dir=BENCH)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    os.chmod(tmp, 0o644)  # mkstemp creates 0600
    os.replace(tmp, RESULTS)


# --------------------------------------------------------------------------- main

def git_desc() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=REPO, timeout=20).stdout.strip()
        if not rev:
            return "git checkout without commits yet"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=REPO, timeout=20).stdout.strip()
        return f"commit {rev}{' (modified)' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"


def main() -> int:
    ap = argparse.ArgumentParser(description="OCR engine benchmark → bench/results.md")
    ap.add_argument("--engines", help="comma-separated subset of engine names")
    ap.add_argument("--datasets", help="comma-separated subset of: " + ",".join(d.key for d in DATASETS))
    ap.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "1")),
                    help="threads per engine (0 = each engine's default); default 1")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per subprocess")
    ap.add_argument("--repeat", type=int, default=1, help="cold runs per (engine, file); fastest kept")
    ap.add_argument("--no-warm", action="store_true", help="skip the warm (multi-file) runs")
    ap.add_argument("--report-only", action="store_true", help="re-render results.md from work/raw.json")
    args = ap.parse_args()

    if not (TESTDATA / "manifest.tsv").is_file() or not SCORE_PY.is_file():
        print(f"bench: skipped: shared test data not found at {TESTDATA} (expected ../shared next to the repo)")
        return 0

    datasets = [d for d in DATASETS if not args.datasets or d.key in args.datasets.split(",")]
    items_all, not_run = load_items()
    items = [i for i in items_all if any(d.match(i) for d in datasets)]
    not_run += [f"{i.stem} ({i.category}: in no selected dataset)" for i in items_all if i not in items]
    by_stem = {i.stem: i for i in items}
    ctx = {"datasets": datasets,
           "ds_match": {d.key: (lambda s, d=d: s in by_stem and d.match(by_stem[s])) for d in datasets}}

    if args.report_only:
        ctx["raw"] = json.loads(RAW.read_text(encoding="utf-8"))
        write_results(ctx)
        print(f"bench: wrote {RESULTS.relative_to(REPO)} from {RAW.relative_to(REPO)}")
        return 0

    engines = make_engines(args.threads)
    if args.engines:
        want = args.engines.split(",")
        unknown = set(want) - {e.name for e in engines}
        if unknown:
            ap.error(f"unknown engines: {', '.join(sorted(unknown))}")
        engines = [e for e in engines if e.name in want]

    WORK.mkdir(parents=True, exist_ok=True)
    raw = {"meta": {}, "engines": [], "skipped": {}, "cold": {}, "warm": {}, "scores": {},
           "items": [asdict(i) for i in items], "not_run": not_run}
    ctx["raw"] = raw
    for e in engines:
        why = e.unavailable()
        if why:
            raw["skipped"][e.name] = why
            print(f"bench: skipping {e.name}: {why}")
        raw["engines"].append({"name": e.name, "version": "" if why else e.version(), "describe": e.describe()})
    raw["meta"] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(), "cpu": cpu_model(),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "git": git_desc(), "n_items": len(items), "timeout": args.timeout, "repeat": args.repeat,
        "threads_note": (f"{args.threads} per engine (`OMP_THREAD_LIMIT`/`OMP_NUM_THREADS` for Tesseract, "
                         f"onnxruntime intra-op threads for rapidocr, `RTEN_NUM_THREADS`/`RAYON_NUM_THREADS`/"
                         f"`OCRCHAT_THREADS` for ocrchat)" if args.threads > 0
                         else "each engine's default (all cores)"),
    }
    t0 = time.perf_counter()
    measure(ctx, engines, items, datasets, args)
    score_all(ctx, engines, items, datasets)
    raw["meta"]["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    raw["meta"]["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    tmp = RAW.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(raw, indent=1), encoding="utf-8")
    os.replace(tmp, RAW)
    write_results(ctx)
    print(f"bench: wrote {RESULTS.relative_to(REPO)} in {raw['meta']['bench_wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
