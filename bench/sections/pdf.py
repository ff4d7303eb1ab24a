"""results.md section "PDF input", rendered from bench/work/pdf.json (written by bench/pdf_bench.py,
which `bench/run.sh pdf` runs alone and `make bench` runs before bench.py)."""
import json
from pathlib import Path

RAW = Path(__file__).resolve().parent.parent / "work" / "pdf.json"


def render(ctx) -> str:
    if not RAW.is_file():
        return ""
    raw = json.loads(RAW.read_text(encoding="utf-8"))
    m = raw.get("meta", {})
    out = ["## PDF input (`bench/run.sh pdf`)", "",
           f"Measured {m.get('date')} on {m.get('nproc')} CPUs, load average {m.get('loadavg')} at start, "
           f"{m.get('loadavg_end')} at end; ocrchat threads: {m.get('threads')}. Each run is a fresh "
           "`target/release/ocrchat ocr` process (model loading included).", ""]
    b = raw.get("born_digital")
    if b:
        verdict = "**PASS**" if b["total_s"] < 2.0 else "**MISS**"
        out += [f"Born-digital: `{b['file']}` ({b['pages']} pages, {b['input_bytes'] // 1024} KB) read from its "
                f"text layer (no page OCR; one run of 16 characters is read back with the recogniser to check "
                f"the layer's encoding) and converted to every format, fastest of {b['repeat']} runs each:", "",
                "| format | wall s | output |", "|---|---:|---:|"]
        out += [f"| {r['format']} | {r['wall_s']:.3f} | {r['bytes'] // 1024} KB |" for r in b["formats"]]
        out += [f"| **all six** | **{b['total_s']:.3f}** | target < 2 s: {verdict} |", "",
                "The searchable PDF of a born-digital file is the original file, byte for byte: "
                f"{'yes' if b['pdf_unchanged'] else 'NO'}.", ""]
    scans = raw.get("scanned") or []
    if scans:
        s = scans[-1]
        out += [f"Scanned: image-only PDFs (grey JPEG pages; {s['pages']} pages = {s['input_bytes'] // 1024} KB) "
                f"made from {', '.join('`' + x + '`' for x in s['sources'])} in turn, read by "
                "`ocrchat ocr --format txt` (small model). Pages are rendered and recognised one at a "
                "time:", "",
                "| pages | input | wall s | s / page | peak RSS (`/usr/bin/time -v`) | CER vs ground truth |",
                "|---:|---:|---:|---:|---:|---:|"]
        out += [f"| {s['pages_read']} | {s['input_bytes'] / 2**20:.1f} MB | {s['wall_s']} | "
                f"{s['wall_s'] / max(1, s['pages']):.1f} | {s['peak_rss_mb']} MB | {s['cer']:.4f} |" for s in scans]
        out.append("")
        if len(scans) >= 2 and all(x["peak_rss_mb"] for x in scans):
            a, b = scans[0], scans[-1]
            grow = b["peak_rss_mb"] - a["peak_rss_mb"]
            file_mb = 2 * (b["input_bytes"] - a["input_bytes"]) / 2**20
            out += [f"From {a['pages']} to {b['pages']} pages peak RSS grows by {grow} MB; {file_mb:.0f} MB of "
                    "that is the larger file held twice (the CLI's input bytes and the PDF parser's copy). "
                    "Page pixels and model buffers are per page.", ""]
    return "\n".join(out)
