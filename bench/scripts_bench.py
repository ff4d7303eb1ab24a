#!/usr/bin/env python3
"""The `## Scripts` section of bench/results.md (issue 11, acceptance 2): non-Latin scripts side by side.

Two groups of items:
  - the shared dev items (`../shared/testdata`): `cyr_*` Cyrillic lines (ru) and `san_*` Sanskrit pages (sa);
  - the 14 sentences of tests/data/scripts.tsv, rendered with pango-view exactly as tests/tests/scripts.rs does.
Each item is read by
  - ocrchat with the language code (`ocrchat ocr --language CODE --models-dir models FILE`),
  - ocrchat with `--language auto` (the route it took is read from its debug log: `stage: script`),
  - the `tesseract` CLI with the same pack (`packs` column of engine/src/registry/languages.tsv) from
    models/tessdata, or target/tessdata-all when the pack is not in the default set (n/a when absent),
  - PP-OCR where it applies: for codes PP-OCRv6 reads (zh, zh-tw, ja and its Latin languages) ocrchat's
    code run *is* PP-OCR, so that figure is repeated; elsewhere there is no PP-OCR model for the script.
One thread everywhere (OCRCHAT_THREADS=1 RTEN_NUM_THREADS=1 OMP_THREAD_LIMIT=1); wall seconds are those of
one CLI process per item, so model loading is included for both engines.
CER: Levenshtein over characters after case folding and collapsing whitespace (removed for th/ja/zh/zh-tw),
with ../shared/tools/score.py's norm()/lev() when importable (as tests/tests/scripts.rs otherwise).

usage: scripts_bench.py --markdown OUT.md [--repo DIR] [--shared DIR] [--bin OCRCHAT]
Always exits 0 when something is skipped (the section says what and why).
"""
import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import time

UNSPACED = {"th", "ja", "zh", "zh-tw"}
NO_PPOCR = "n/a — no PP-OCR model for this script"
THREAD_ENV = {"OCRCHAT_THREADS": "1", "RTEN_NUM_THREADS": "1", "OMP_THREAD_LIMIT": "1"}
TIMEOUT = 600


def load_scorer(shared):
    """score.py's norm and lev, or the same rule as tests/src/lib.rs (lower case, whitespace collapsed)."""
    tools = os.path.join(shared, "tools")
    if os.path.isfile(os.path.join(tools, "score.py")):
        sys.path.insert(0, tools)
        try:
            import score  # noqa: E402

            return score.norm, score.lev, "../shared/tools/score.py (NFKC, case-folded)"
        except Exception:  # pragma: no cover - a broken score.py falls back
            pass
        finally:
            sys.path.pop(0)

    def norm(s, strip_ws=False):
        words = s.lower().split()
        return "".join(words) if strip_ws else " ".join(words)

    def lev(a, b):
        prev = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            cur = [i]
            for j, cb in enumerate(b, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
            prev = cur
        return prev[-1]

    return norm, lev, "lower-cased, as tests/src/lib.rs"


def languages(repo):
    """code -> (name, script, packs) from engine/src/registry/languages.tsv."""
    out = {}
    with open(os.path.join(repo, "engine/src/registry/languages.tsv"), encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            out[row["code"]] = (row["name"], row["script"], row["packs"])
    return out


def ppocr_codes(repo):
    """The codes PP-OCRv6 reads: zh, zh-tw, ja and the LATIN list of engine/src/registry.rs."""
    codes = {"zh", "zh-tw", "ja"}
    try:
        src = open(os.path.join(repo, "engine/src/registry.rs"), encoding="utf-8").read()
        m = re.search(r"const LATIN: &\[&str\] = &\[(.*?)\];", src, flags=re.S)
        if m:
            codes |= set(re.findall(r'"([^"]+)"', m.group(1)))
    except OSError:
        codes.add("en")
    return codes


def run(cmd, env):
    start = time.perf_counter()
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - start, f"timeout after {TIMEOUT} s"
    secs = time.perf_counter() - start
    if p.returncode != 0:
        return None, secs, p.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["exit %d" % p.returncode]
    return p.stdout.decode("utf-8", "replace"), secs, p.stderr.decode("utf-8", "replace")


def best_trial(log):
    """The best (pack, score) of `auto`'s script trial, or None when it did not run."""
    log = re.sub(r"\x1b\[[0-9;]*m", "", log)
    trials = [(m.group(1), float(m.group(2)))
              for m in re.finditer(r'script trial .*?pack="([^"]+)" score=([0-9.eE+-]+)', log)]
    return max(trials, key=lambda t: t[1]) if trials else None


def auto_route(log):
    """What `auto` read the page with, from the engine's debug log."""
    log = re.sub(r"\x1b\[[0-9;]*m", "", log)
    m = None
    for m in re.finditer(r"stage: script.*", log):
        pass
    if m is None:
        return "PP-OCR (no script check)"
    pack = re.search(r'pack=(?:Some\()?"?([A-Za-z_+]+)', m.group(0))
    if pack and pack.group(1) != "None":
        return f"Tesseract `{pack.group(1)}`"
    return "PP-OCR (script trial did not switch)"


class Bench:
    def __init__(self, args):
        self.repo = args.repo
        self.bin = args.bin
        self.models = os.path.join(args.repo, "models")
        self.tessdata = os.path.join(self.models, "tessdata")
        self.tessdata_all = os.path.join(args.repo, "target", "tessdata-all")
        self.work = os.path.join(args.repo, "bench", "work", "scripts")
        self.norm, self.lev, self.scorer = load_scorer(args.shared)
        self.langs = languages(args.repo)
        self.ppocr = ppocr_codes(args.repo)
        self.tesseract = shutil.which("tesseract")
        self.env = dict(os.environ, **THREAD_ENV)
        self.notes = []

    def cer(self, code, hyp, gt):
        strip = code in UNSPACED
        h, g = self.norm(hyp, strip), self.norm(gt, strip)
        return self.lev(h, g), max(1, len(g))

    def save(self, engine, stem, text):
        d = os.path.join(self.work, engine)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, stem + ".txt"), "w", encoding="utf-8") as f:
            f.write(text or "")

    def measure(self, engine, stem, code, cmd, gt, env=None):
        text, secs, log = run(cmd, env or self.env)
        if text is None:
            self.notes.append(f"{engine} failed on `{stem}`: {' '.join(log) if isinstance(log, list) else log}")
            print(f"scripts: {engine} {stem}: FAILED {log}", file=sys.stderr)
            return None
        self.save(engine, stem, text)
        edits, chars = self.cer(code, text, gt)
        print(f"scripts: {stem:<24} {engine:<14} CER {edits / chars:.3f}  {secs:6.2f} s", file=sys.stderr)
        return {"edits": edits, "chars": chars, "cer": edits / chars, "secs": secs, "text": text, "log": log}

    def tess_dir(self, pack):
        parts = pack.split("+")
        for d in (self.tessdata, self.tessdata_all):
            if all(os.path.isfile(os.path.join(d, p + ".traineddata")) for p in parts):
                return d
        return None

    def item(self, stem, code, image, gt):
        row = {"stem": stem, "code": code}
        row["code_run"] = self.measure(
            "ocrchat-code", stem, code,
            [self.bin, "ocr", "--language", code, "--models-dir", self.models, image], gt)
        env = dict(self.env, OCRCHAT_LOG="warn,ocrchat_engine=debug")
        row["auto_run"] = self.measure(
            "ocrchat-auto", stem, code,
            [self.bin, "ocr", "--language", "auto", "--models-dir", self.models, image], gt, env)
        if row["auto_run"]:
            row["route"] = auto_route(row["auto_run"]["log"])
            row["trial"] = best_trial(row["auto_run"]["log"])
        pack = self.langs.get(code, ("", "", ""))[2]
        row["pack"] = pack
        tdir = self.tess_dir(pack) if pack else None
        row["tess_dir"] = tdir
        if not self.tesseract:
            row["tess_na"] = "n/a — tesseract CLI not installed"
        elif tdir is None:
            row["tess_na"] = f"n/a — `{pack or '?'}` not installed"
        else:
            row["tess_run"] = self.measure(
                "tesseract", stem, code,
                [self.tesseract, image, "-", "-l", pack, "--tessdata-dir", tdir], gt)
        row["ppocr"] = code in self.ppocr
        return row

    # --- the two groups ------------------------------------------------------------------------
    def dev_items(self, testdata):
        rows = []
        for f in sorted(os.listdir(testdata)):
            stem, ext = os.path.splitext(f)
            if ext not in (".png", ".jpg") or not stem.startswith(("cyr_", "san_")):
                continue
            gt_path = os.path.join(testdata, stem + ".txt")
            if not os.path.isfile(gt_path):
                continue
            code = "ru" if stem.startswith("cyr_") else "sa"
            gt = open(gt_path, encoding="utf-8").read()
            rows.append(self.item(stem, code, os.path.join(testdata, f), gt))
        return rows

    def sentences(self):
        if not shutil.which("pango-view"):
            return None
        out = os.path.join(self.work, "rendered")
        os.makedirs(out, exist_ok=True)
        rows = []
        with open(os.path.join(self.repo, "tests/data/scripts.tsv"), encoding="utf-8") as f:
            lines = [l.rstrip("\n") for l in f][1:]
        for line in lines:
            if not line.strip() or line.startswith("#"):
                continue
            family, code, font, text = line.split("\t")[:4]
            image = os.path.join(out, family.lower() + ".png")
            p = subprocess.run(["pango-view", "--no-display", "--dpi", "150", "--margin", "40",
                                "--font", font, "--text", text, "-o", image], capture_output=True)
            if p.returncode != 0:
                self.notes.append(f"pango-view failed for {family}: {p.stderr.decode(errors='replace').strip()}")
                continue
            row = self.item(family.lower(), code, image, text)
            row["family"] = family
            rows.append(row)
        return rows


# --- Markdown ----------------------------------------------------------------------------------
def cell(r):
    return "—" if r is None else f"{r['cer']:.3f} / {r['secs']:.2f}"


def mean(vals):
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def fmt_mean(rows, key):
    runs = [r.get(key) for r in rows]
    if not runs or any(x is None for x in runs):
        return "—"
    return f"**{mean([x['cer'] for x in runs]):.3f}** / {mean([x['secs'] for x in runs]):.2f}"


def fmt_pooled(rows, key):
    runs = [r.get(key) for r in rows]
    if not runs or any(x is None for x in runs):
        return "—"
    return f"{sum(x['edits'] for x in runs) / sum(x['chars'] for x in runs):.3f}"


def table(rows, label):
    out = [f"| {label} | code | ocrchat, code | ocrchat, `auto` | `auto` read it with | Tesseract CLI (pack) | PP-OCR |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        dagger = "†" if r.get("tess_dir") and not r["tess_dir"].endswith("models/tessdata") else ""
        tess = cell(r.get("tess_run")) + f" (`{r['pack']}`{dagger})" if "tess_run" in r else r.get("tess_na", "—")
        pp = cell(r["code_run"]) + " (= ocrchat, code)" if r["ppocr"] else NO_PPOCR
        out.append(f"| {r.get('family', r['stem'])} | {r['code']} | {cell(r['code_run'])} | {cell(r['auto_run'])} "
                   f"| {r.get('route', '—')} | {tess} | {pp} |")
    all_tess = all("tess_run" in r for r in rows)
    tess_mean = fmt_mean(rows, "tess_run") if all_tess else "— (not every item)"
    pp_rows = [r for r in rows if r["ppocr"]]
    pp_mean = (fmt_mean(pp_rows, "code_run") + f" ({len(pp_rows)} items)") if pp_rows else "n/a"
    out.append(f"| **mean** ({len(rows)} items) | | {fmt_mean(rows, 'code_run')} | {fmt_mean(rows, 'auto_run')} | "
               f"| {tess_mean} | {pp_mean} |")
    if any(r.get("tess_dir") and not r["tess_dir"].endswith("models/tessdata") for r in rows):
        out += ["", "† pack from `target/tessdata-all` (not in the default `make models` set)."]
    return out


def same_text(b, r, a, c):
    """Whether two readings of item r are the same after normalisation."""
    strip = r["code"] in UNSPACED
    return b.norm(a["text"], strip) == b.norm(c["text"], strip)


def versus_cli(b, rows, label):
    """ocrchat (code) against the tesseract CLI: where it is at or below, where not, and why they differ."""
    pairs = [(r, r["code_run"], r["tess_run"]) for r in rows if r.get("code_run") and r.get("tess_run")]
    if not pairs:
        return [f"- {label}: no item with both ocrchat and the Tesseract CLI measured."]
    le = [r for r, c, t in pairs if c["cer"] <= t["cer"] + 1e-9]
    worse = [(r, c, t) for r, c, t in pairs if c["cer"] > t["cer"] + 1e-9]
    same = [r for r, c, t in pairs if same_text(b, r, c, t)]
    zwnj = [r for r, c, t in pairs if r not in same
            and b.norm(c["text"].replace("\u200c", "")) == b.norm(t["text"].replace("\u200c", ""))]
    line = f"ocrchat with the code ≤ the Tesseract CLI on {len(le)} of {len(pairs)} items"
    if worse:
        line += "; above it on " + ", ".join(
            f"{r.get('family', r['stem'])} ({c['cer']:.3f} vs {t['cer']:.3f})" for r, c, t in worse)
    line += f"; the normalised text is identical on {len(same)} of {len(pairs)}"
    if zwnj:
        line += (", and differs only by the zero-width non-joiner (U+200C) the CLI leaves after word-final "
                 "viramas on " + ", ".join(r.get("family", r["stem"]) for r in zwnj) + " (ocrchat drops it)")
    oc, tc = mean([c["secs"] for _, c, _ in pairs]), mean([t["secs"] for _, _, t in pairs])
    line += f"; wall time {oc:.2f} s an item against the CLI's {tc:.2f} s"
    if oc > tc:
        line += " (ocrchat's process start-up and model loading weigh most on small images)"
    return [f"- {label}: {line}."]


def summary_dev(b, rows):
    if not rows:
        return []
    pairs = [r for r in rows if r.get("code_run") and r.get("tess_run")]
    met = len(pairs) == len(rows) and all(r["code_run"]["cer"] <= r["tess_run"]["cer"] + 1e-9 for r in pairs)
    return [f"- **Acceptance 2 ({'met' if met else 'not met'})**: on the shared dev items "
            f"CER {fmt_pooled(rows, 'code_run')} (pooled) against the CLI's {fmt_pooled(rows, 'tess_run')}"
            + ("; ru and sa go to Tesseract with the same pack reading the whole page, so the two agree item for item."
               if all(abs(r["code_run"]["cer"] - r["tess_run"]["cer"]) < 1e-9 for r in pairs) else ".")] + \
        versus_cli(b, rows, "Dev items")


def summary_auto(b, rows, label):
    diffs = []
    for r in rows:
        c, a = r.get("code_run"), r.get("auto_run")
        if not (c and a) or same_text(b, r, c, a):
            continue
        why = r.get("route", "?")
        trial = r.get("trial")
        if why.startswith("PP-OCR") and trial and not r["ppocr"]:
            why += f"; best script trial `{trial[0]}` scored {trial[1]:.2f}, below the threshold to switch"
        elif why.startswith("Tesseract") and r["pack"] and f"`{r['pack']}`" not in why:
            why += f" — `auto` tries one pack per script, not the code's `{r['pack']}`"
        diffs.append(f"{r.get('family', r['stem'])} ({r['code']}: {c['cer']:.3f} → {a['cer']:.3f}; {why})")
    secs = [(r["auto_run"]["secs"], r["code_run"]["secs"]) for r in rows if r.get("code_run") and r.get("auto_run")]
    slow = ""
    if secs:
        am, cm = mean([a for a, _ in secs]), mean([c for _, c in secs])
        slow = f" `auto` takes {am:.2f} s an item against {cm:.2f} s with the code" + \
            (" (the line models read the page first, then the script trial runs when they read it poorly)." if am > cm else ".")
    if not diffs:
        return [f"- `auto` ({label}): the same text as the code on every item.{slow}"]
    return [f"- `auto` ({label}) differs from the code on {len(diffs)} item(s): " + "; ".join(diffs) + f".{slow}"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--repo", default=os.path.dirname(here))
    ap.add_argument("--shared", default=os.environ.get("BENCH_SHARED"))
    ap.add_argument("--bin", default=os.environ.get("OCRCHAT_BIN"))
    args = ap.parse_args()
    args.repo = os.path.abspath(args.repo)
    args.shared = os.path.abspath(args.shared or os.path.join(args.repo, "..", "shared"))
    args.bin = args.bin or os.path.join(args.repo, "target", "release", "ocrchat")

    md = ["## Scripts", "",
          "Non-Latin scripts (issue 11): ocrchat with the language code and with `auto`, the `tesseract` CLI with the "
          "same pack, and PP-OCR where it reads the script. Each cell is **CER / wall seconds** for one item. "
          "`bash bench/run.sh scripts` reruns only this section (bench/scripts_bench.py)."]
    if not os.access(args.bin, os.X_OK):
        print(f"scripts: skipped: {args.bin} not built", file=sys.stderr)
        md += ["", f"skipped: `{os.path.relpath(args.bin, args.repo)}` not built."]
        open(args.markdown, "w", encoding="utf-8").write("\n".join(md) + "\n")
        return 0
    b = Bench(args)
    tess_version = "absent"
    if b.tesseract:
        v = subprocess.run([b.tesseract, "--version"], capture_output=True, text=True)
        tess_version = ((v.stdout or v.stderr).splitlines() or ["?"])[0]
    md += ["",
           f"- One thread everywhere: `OCRCHAT_THREADS=1 RTEN_NUM_THREADS=1 OMP_THREAD_LIMIT=1` for ocrchat and the "
           f"CLI alike. Seconds are the wall time of one CLI process per item, so they **include start-up and model "
           f"loading** for both engines (`auto` also pays for its script trial when the line models read a page "
           f"poorly).",
           f"- ocrchat: `ocrchat ocr --language CODE|auto --models-dir models FILE`; Tesseract: `{tess_version}`, "
           f"`tesseract FILE - -l PACK --tessdata-dir models/tessdata` (PACK = the `packs` column of "
           f"engine/src/registry/languages.tsv; `target/tessdata-all` when the pack is not in the default set). "
           f"PP-OCR: for codes PP-OCRv6 reads, ocrchat's code run is PP-OCR, so its figure is repeated.",
           f"- CER: Levenshtein over characters / GT characters, case-folded, whitespace collapsed (removed for "
           f"th, ja, zh) — normalisation from {b.scorer}. \"`auto` read it with\" comes from the engine's debug log "
           f"(`stage: script`)."]

    load = os.getloadavg()[0]
    testdata = os.path.join(args.shared, "testdata")
    dev = None
    md += ["", "### Shared dev items (`../shared/testdata`: `cyr_*` Russian lines, `san_*` Sanskrit pages)", ""]
    if not os.path.isfile(os.path.join(testdata, "manifest.tsv")):
        print("scripts: skipped the dev items: ../shared absent", file=sys.stderr)
        md.append("skipped: ../shared absent")
    else:
        dev = b.dev_items(testdata)
        md += table(dev, "item")
        md += ["", f"Pooled CER (edits / GT characters; the two Sanskrit pages carry most characters): "
                   f"ocrchat code {fmt_pooled(dev, 'code_run')}, `auto` {fmt_pooled(dev, 'auto_run')}, "
                   f"Tesseract CLI {fmt_pooled(dev, 'tess_run')}."]

    md += ["", "### Rendered sentences (tests/data/scripts.tsv, `pango-view --dpi 150 --margin 40`, as tests/tests/scripts.rs)", ""]
    sent = b.sentences()
    if sent is None:
        print("scripts: skipped the rendered sentences: pango-view not installed", file=sys.stderr)
        md.append("skipped: pango-view not installed (scripts/install-lang-deps.sh installs it).")
    else:
        md += table(sent, "family")

    md += ["", "### Summary", ""]
    if dev is not None:
        md += summary_dev(b, dev)
        md += summary_auto(b, dev, "dev items")
    if sent:
        md += versus_cli(b, sent, "Rendered sentences")
        md += summary_auto(b, sent, "sentences")
    md.append(f"- Load average when the run began: {load:.1f} on {os.cpu_count()} cores; seconds are one run each.")
    if dev is None and not sent:
        md.append("- nothing measured (see the skips above).")
    if b.notes:
        md += ["", "Failures:"] + [f"- {n}" for n in b.notes]
    os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
    with open(args.markdown, "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")
    print(f"scripts: section written to {args.markdown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
