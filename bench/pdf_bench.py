#!/usr/bin/env python3
"""PDF benchmarks (issue 3), runnable alone with `bench/run.sh pdf`:

  born-digital   the 14-page born-digital `pdfjs_tracemonkey.pdf` converted by
                 `ocrchat ocr FILE --format F -o OUT` to each of the six formats (text layer,
                 no OCR); wall time per format, fastest of --repeat runs, and the total
                 (issue target: < 2 s native for all six).
  scanned        image-only PDFs of 4 and 20 pages made here from testdata page scans (JPEG
                 pages, as a scanner writes them; built under bench/work, never committed) read
                 by `ocrchat ocr --format txt`; wall time, peak RSS from `/usr/bin/time -v` (the
                 same for 4 and 20 pages when pages stream) and CER against the pages' ground
                 truth.

Writes bench/work/pdf.json and replaces only the "PDF input" section of bench/results.md
(rendered by bench/sections/pdf.py, which `make bench` also picks up).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SHARED = Path(os.environ.get("BENCH_SHARED", REPO.parent / "shared")).resolve()
TESTDATA = SHARED / "testdata"
WORK = BENCH / "work" / "pdf"
RAW = BENCH / "work" / "pdf.json"
RESULTS = BENCH / "results.md"
BIN = REPO / "target" / "release" / "ocrchat"
FORMATS = ["txt", "md", "json", "docx", "csv", "pdf"]
BORN_DIGITAL = "pdfjs_tracemonkey.pdf"
# Printed page scans of the test data; the 20 pages cycle through them.
SCAN_PAGES = ["tess_8071_093.3B.png", "tess_8087_054.3B.png", "tess_eurotext.png", "tess_phototest.png"]
SCAN_SIZES = (4, 20)


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def timed(cmd: list[str], env: dict) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-300:]}")
    return wall, p.stderr


def bench_born_digital(env: dict, repeat: int) -> dict:
    src = TESTDATA / BORN_DIGITAL
    rows = []
    for fmt in FORMATS:
        out = WORK / f"tracemonkey.{fmt}"
        walls = [timed([str(BIN), "ocr", str(src), "--format", fmt, "-o", str(out)], env)[0] for _ in range(repeat)]
        rows.append({"format": fmt, "wall_s": round(min(walls), 3), "bytes": out.stat().st_size})
    pages = 14
    return {"file": BORN_DIGITAL, "pages": pages, "input_bytes": src.stat().st_size, "repeat": repeat,
            "formats": rows, "total_s": round(sum(r["wall_s"] for r in rows), 3),
            "pdf_unchanged": (WORK / "tracemonkey.pdf").read_bytes() == src.read_bytes()}


def make_scanned_pdf(path: Path, n: int) -> list[str]:
    """An n-page image-only PDF from the page scans (Pillow writes each page as a JPEG image)."""
    from PIL import Image
    stems = [SCAN_PAGES[i % len(SCAN_PAGES)] for i in range(n)]
    images = []
    for name in stems:
        im = Image.open(TESTDATA / name)
        dpi = round(im.info.get("dpi", (300, 300))[0])
        images.append((im.convert("L"), dpi))
    first, dpi = images[0]
    # Pillow takes one resolution for the whole file; pages keep their pixels.
    first.save(path, "PDF", save_all=True, append_images=[im for im, _ in images[1:]], resolution=dpi, quality=90)
    return stems


def bench_scanned(env: dict, n: int) -> dict:
    pdf = WORK / f"scanned-{n}.pdf"
    stems = make_scanned_pdf(pdf, n)
    out = WORK / f"scanned-{n}.txt"
    cmd = ["/usr/bin/time", "-v", str(BIN), "ocr", str(pdf), "--format", "txt", "-o", str(out)]
    wall, err = timed(cmd, env)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    score = load(SHARED / "tools" / "score.py", "score")
    pages = out.read_text(encoding="utf-8").split("\f")
    chars = errors = 0
    for stem, text in zip(stems, pages):
        gt = score.norm((TESTDATA / (Path(stem).stem + ".txt")).read_text(encoding="utf-8"))
        chars += len(gt)
        errors += score.lev(score.norm(text), gt)
    return {"pages": n, "pages_read": len(pages), "sources": SCAN_PAGES, "input_bytes": pdf.stat().st_size,
            "wall_s": round(wall, 1), "peak_rss_mb": round(int(m.group(1)) / 1024) if m else None,
            "cer": round(errors / max(1, chars), 4)}


def replace_section(text: str) -> None:
    """Puts `text` in place of the current "## PDF input" section of results.md (or before
    "## Per file", or at the end), leaving every other section as it is."""
    md = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else ""
    body = text.rstrip() + "\n"
    start = md.find("## PDF input")
    if start >= 0:
        end = md.find("\n## ", start + 1)
        md = md[:start] + body + ("\n" + md[end + 1:] if end >= 0 else "")
    else:
        at = md.find("## Per file")
        md = md[:at] + body + "\n" + md[at:] if at >= 0 else md.rstrip() + "\n\n" + body
    RESULTS.write_text(md, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs per format on the born-digital PDF; fastest kept")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "0")),
                    help="RTEN_NUM_THREADS for ocrchat (0 = all cores, the CLI's default)")
    ap.add_argument("--skip-scanned", action="store_true", help="only the born-digital conversion (keeps the last scanned numbers)")
    ap.add_argument("--report-only", action="store_true", help="re-render the section from work/pdf.json")
    args = ap.parse_args()
    if args.report_only:
        replace_section(load(BENCH / "sections" / "pdf.py", "pdf_section").render({}))
        return 0
    if not (TESTDATA / BORN_DIGITAL).is_file():
        print(f"bench pdf: skipped: {TESTDATA / BORN_DIGITAL} not found")
        return 0
    if not BIN.is_file():
        print(f"bench pdf: {BIN} missing: run `cargo build --release -p ocrchat` first", file=sys.stderr)
        return 1
    WORK.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.threads > 0:
        env["RTEN_NUM_THREADS"] = env["RAYON_NUM_THREADS"] = str(args.threads)
    raw = json.loads(RAW.read_text(encoding="utf-8")) if RAW.is_file() else {}
    raw["meta"] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "nproc": os.cpu_count(),
                   "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                   "threads": args.threads or "all cores (CLI default)"}
    raw["born_digital"] = bench_born_digital(env, args.repeat)
    print(f"bench pdf: born-digital, six formats in {raw['born_digital']['total_s']} s")
    if not args.skip_scanned:
        raw["scanned"] = []
        for n in SCAN_SIZES:
            s = bench_scanned(env, n)
            raw["scanned"].append(s)
            print(f"bench pdf: scanned {n} pages in {s['wall_s']} s, peak RSS {s['peak_rss_mb']} MB, CER {s['cer']}")
    raw["meta"]["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    RAW.write_text(json.dumps(raw, indent=1), encoding="utf-8")
    replace_section(load(BENCH / "sections" / "pdf.py", "pdf_section").render({}))
    print(f"bench pdf: updated the PDF section of {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
