"""results.md section "Where the time goes": per-stage and per-operator profile of the A4 page,
rendered from bench/work/profile.json (written by bench/profile.py, which `make bench` runs)."""
import json
from pathlib import Path

RAW = Path(__file__).resolve().parent.parent / "work" / "profile.json"

STAGES = [  # (stage, field, label)
    ("decode", "cpu_ms", "decode (PNG → pixels)"),
    ("detect", "resize_cpu_ms", "detect: resize to the network input"),
    ("detect", "infer_cpu_ms", "detect: network"),
    ("detect", "post_cpu_ms", "detect: DB post-processing"),
    ("orientation", "ms", "orientation checks (beyond the one detect + recognise; wall)"),
    ("recognise", "crop_cpu_ms", "recognise: crop + normalise"),
    ("recognise", "infer_cpu_ms", "recognise: network"),
    ("recognise", "ctc_cpu_ms", "recognise: CTC decode + words"),
    ("layout", "ms", "layout (blocks, reading order; wall)"),
    ("export", "ms", "export (txt; wall)"),
]


def render(ctx) -> str:
    if not RAW.is_file():
        return ""
    raw = json.loads(RAW.read_text(encoding="utf-8"))
    vs = raw["variants"]
    out = ["## Where the time goes (A4 page, one thread)", "",
           f"`bench/profile.py`, {raw['date']}, load average {raw['loadavg']} at start: one cold "
           f"`ocrchat ocr` process per variant on `{raw['image']}` with `RTEN_NUM_THREADS=1` / `OCRCHAT_THREADS=1`, stage times from the "
           "engine's `stage: …` debug logs (`OCRCHAT_LOG=ocrchat_engine=debug`), then a second process with "
           "`RTEN_TIMING=1` for rten's per-operator times (rten variants only) (timing adds a little overhead; read shares, not "
           "absolute values). Stage figures are process CPU ms (`/proc/self/stat`, 10 ms ticks; the machine "
           "is shared, so wall time would measure the neighbours) unless marked wall; the last row is the "
           "process's CPU time, which includes start-up and model loading.", ""]
    head = "| stage | " + " | ".join(f"{v['model']} `--language {v['language']}` {v.get('runtime', 'rten')} ms"
                                    for v in vs) + " |"
    out += [head, "|---|" + "---:|" * len(vs)]
    for stage, field, label in STAGES:
        cells = []
        for v in vs:
            s = v["stages"].get(stage, {})
            cells.append(f"{s[field]:.0f}" if field in s else "—")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("| **process CPU (user + sys)** | " + " | ".join(f"**{v['cpu_s'] * 1000:.0f}**" for v in vs) + " |")
    out.append("")
    for v in vs:
        for net in ("det", "rec"):
            ops = v["ops"][net]["ops"]
            total = sum(ops.values())
            if not total:
                continue
            top = list(ops.items())[:8]
            cells = ", ".join(f"{op} {ms / total * 100:.0f}%" for op, ms in top)
            out.append(f"- {v['model']} `{v['language']}` {v.get('runtime', 'rten')} {net} ({v['ops'][net]['runs']} runs, "
                       f"{total:.0f} ms in ops): {cells}")
    out.append("")
    return "\n".join(out)
