#!/usr/bin/env python3
"""Browser benchmark (`make bench`, after bench/run.sh): the app served by `ocrchat serve`, driven in
headless Chromium by tests/browser/drive.mjs (mode `bench`). Measures, per model (tiny, small), the time
from dropping a file to its text for the phototest page and the 300-dpi A4 page, main-thread long tasks
during OCR, the native CLI time on the same A4 page (target: browser <= 3x native), and the gzip size of
what a first visit transfers (app + worker wasm, models) and of the PDF worker fetched on demand. Writes its own section of bench/results.md,
between markers, so bench.py's rewrite of the file and this section never collide."""
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BENCH_SHARED", REPO.parent / "shared"))
RESULTS = REPO / "bench" / "results.md"
START, END = "<!-- web-bench:start -->", "<!-- web-bench:end -->"
A4 = REPO / "bench" / "work" / "a4" / "a4_tess_8087_054.3B.png"


def gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), 9))


def serve(data_dir: str):
    p = subprocess.Popen([str(REPO / "target/release/ocrchat"), "serve", "--addr", "127.0.0.1:0", "--data-dir", data_dir,
                          "--web-dir", str(REPO / "dist"), "--models-dir", str(REPO / "models")],
                         stdout=subprocess.PIPE, text=True)
    for line in p.stdout:
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            return p, m.group(1).rstrip("/") + "/"
    raise SystemExit("web bench: ocrchat serve exited before listening")


def native_seconds(model: str, page: Path) -> float:
    best = None
    for _ in range(2):
        t = time.monotonic()
        subprocess.run([str(REPO / "target/release/ocrchat"), "ocr", str(page), "--model", model, "-o", os.devnull],
                       check=True, stderr=subprocess.DEVNULL, env={**os.environ, "RTEN_NUM_THREADS": "1"})
        best = min(best or 1e9, time.monotonic() - t)
    return best


def main() -> None:
    if not (SHARED / "testdata" / "tess_phototest.png").is_file():
        print("web bench: skipped: ../shared/testdata not found")
        return
    files = [SHARED / "testdata" / "tess_phototest.png"] + ([A4] if A4.is_file() else [])
    npm = Path(os.environ.get("OCRCHAT_NPM_DIR", Path.home() / ".cache/ocrchat/tools/npm"))
    with tempfile.TemporaryDirectory() as tmp:
        server, base = serve(tmp)
        try:
            out = subprocess.run(["node", str(REPO / "tests/browser/drive.mjs"), "bench"], check=True, capture_output=True,
                                 text=True, env={**os.environ, "OCRCHAT_BASE_URL": base, "OCRCHAT_NPM_DIR": str(npm),
                                                 "OCRCHAT_BENCH_FILES": ",".join(map(str, files))}).stdout
        finally:
            server.kill()
    runs = json.loads(out)["runs"]
    dist = REPO / "dist"
    app = sum(gz(dist / f) for f in ["index.html", "style.css", "ocrchat-app.js", "ocrchat-app_bg.wasm"])
    worker = sum(gz(dist / f) for f in ["worker_loader.js", "worker.js", "worker_bg.wasm"])
    full = sum(gz(dist / f) for f in ["worker_full_loader.js", "worker_full.js", "worker_full_bg.wasm"])
    models = {m: sum(gz(REPO / "models" / f"ppocrv6-{m}" / f) for f in ["det.onnx", "rec.onnx", "dict.txt"])
              for m in ["tiny", "small"]}
    mb = lambda n: f"{n / 1e6:.2f} MB"
    lines = [START, "## Browser (headless Chromium, `ocrchat serve`)", "",
             f"Written by `bench/web_bench.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
             "Drop → text: from `setInputFiles` on `#file-input` to the status line reading `done` (decode, OCR in the "
             "worker, layout, preview, render), model already loaded. Long tasks: main-thread tasks > 50 ms "
             "(PerformanceObserver `longtask`) during that time. Native: `ocrchat ocr` on the same file, one thread "
             "(the worker is single-threaded wasm).", "",
             "| model | file | drop → text | native (1 thread) | browser / native | long tasks > 50 ms |",
             "|---|---|---:|---:|---:|---|"]
    for r in runs:
        f = Path(r["file"])
        nat = native_seconds(r["model"], f)
        lt = r["longtasks"]
        lines.append(f"| {r['model']} | {f.stem} | {r['ms'] / 1000:.2f} s | {nat:.2f} s | {r['ms'] / 1000 / nat:.2f}x | "
                     f"{len(lt)}{' (max ' + str(round(max(lt))) + ' ms)' if lt else ''} |")
        if r.get("error"):
            lines.append(f"|  | error: {r['error']} | | | | |")
    if not A4.is_file():
        lines.append("")
        lines.append(f"(A4 page missing: {A4.relative_to(REPO)} is made by bench/run.sh.)")
    lines += ["", "First visit, gzip -9 of what is transferred:", "",
              "| part | gzip |", "|---|---:|",
              f"| app (index.html, style.css, ocrchat-app.js + wasm) | {mb(app)} |",
              f"| OCR worker: images, every export (worker.js + wasm) | {mb(worker)} |",
              f"| **app + worker** (budget 2 MB) | **{mb(app + worker)}** |",
              f"| PDF worker (worker_full: the same plus PDF input), fetched when a PDF is dropped | {mb(full)} |",
              f"| models, tiny (det + rec + dict) | {mb(models['tiny'])} |",
              f"| models, small | {mb(models['small'])} |", END]
    section = "\n".join(lines) + "\n"
    text = RESULTS.read_text() if RESULTS.is_file() else ""
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END) + "\n?", lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)
    print(section)


if __name__ == "__main__":
    sys.exit(main())
