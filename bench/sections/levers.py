"""results.md section "Speed levers": every variant of bench/levers.py (model, pruned CTC head,
detector size, runtime) on the headline datasets and the A4 page, one thread, one run."""
import json
from pathlib import Path

RAW = Path(__file__).resolve().parent.parent / "work" / "levers.json"


def _cell(t):
    if not t:
        return "—"
    return f"{t['cer']:.4f} / {t['bow']:.4f}"


def render(ctx) -> str:
    if not RAW.is_file():
        return ""
    raw = json.loads(RAW.read_text(encoding="utf-8"))
    vs = raw["variants"]
    if not vs:
        return ""
    keys = list(next(iter(vs.values()))["datasets"].keys())
    out = ["## Speed levers (one thread, one run)", "",
           f"`bench/levers.py`, {raw['date']}, load average {raw['loadavg']} at start. Each variant reads every "
           "headline item and the A4 page in one `target/release/levers` process per language (model loading "
           "excluded; `RTEN_NUM_THREADS=1`, `OCRCHAT_THREADS=1`); `L` = the item's language as bench.py gives it (`en` for "
           "English/Latin-script items, which prunes the CTC head to the 618 (tiny) / 1,750 (small) classes "
           "below U+3000; `auto` otherwise). Cells: CER / BoW-F1; s = in-process CPU seconds (user + sys, `/proc/self/stat`) for the set. Only "
           "ratios within this table are comparable (the machine is shared).", "",
           "| variant | what | A4 s | A4 CER / BoW-F1 | " + " | ".join(f"{k} CER / BoW-F1 | {k} s" for k in keys)
           + " |",
           "|---|---|---:|---:|" + "---:|---:|" * len(keys)]
    for name, v in vs.items():
        a4 = v["a4"]
        cells = [f"`{name}`", v["what"], f"{a4['s']:.2f}", _cell(a4["score"])]
        for k in keys:
            d = v["datasets"][k]
            cells += [_cell(d["total"]), f"{d['s']:.1f}"]
        out.append("| " + " | ".join(cells) + " |")
    base_name = next((n for n in ("small-en-ort-before", "small") if n in vs), None)
    base = vs.get(base_name) if base_name else None
    if base:
        out += ["", f"Against the default before issue 12's detector change (`{base_name}`): a variant holds when its "
                f"CER is ≤ and its BoW-F1 ≥ `{base_name}`'s on every dataset and the A4 page (tolerance 0.0005); "
                f"A4 speed-up = `{base_name}`'s A4 CPU s ÷ the variant's.", ""]
        for name, v in vs.items():
            worse = []
            for k in keys + ["a4"]:
                t = v["a4"]["score"] if k == "a4" else v["datasets"][k]["total"]
                b = base["a4"]["score"] if k == "a4" else base["datasets"][k]["total"]
                if t and b and (t["cer"] > b["cer"] + 5e-4 or t["bow"] < b["bow"] - 5e-4):
                    worse.append(k)
            verdict = "holds" if not worse else "worse on " + ", ".join(worse)
            out.append(f"- `{name}`: {base['a4']['s'] / v['a4']['s']:.2f}x on A4, {verdict}")
    out.append("")
    return "\n".join(out)
