#!/usr/bin/env python3
"""Print README's language table (Markdown) from the engine's language table.

Sources, so the README cannot drift from what the engine and `make models` do:
  engine/src/registry/languages.tsv   code, name, script, Tesseract packs
  engine/src/registry.rs              LATIN: the codes PP-OCRv6 reads (+ zh, zh-tw, ja)
  scripts/fetch-tessdata.sh           DEFAULT_PACKS: the packs `make models` installs
"""
import re
from pathlib import Path

root = Path(__file__).resolve().parent.parent


def must(pattern, path):
    m = re.search(pattern, (root / path).read_text(), re.S | re.M)
    if not m:
        raise SystemExit(f"languages_table: {pattern!r} not found in {path}")
    return m.group(1)


# PP-OCRv6 small reads Chinese (both), Japanese and the Latin list.
ppocr = {"zh", "zh-tw", "ja"} | set(re.findall(r'"([^"]+)"', must(r"const LATIN: &\[&str\] = &\[(.*?)\];", "engine/src/registry.rs")))
default = set(must(r'^DEFAULT_PACKS="([^"]*)"', "scripts/fetch-tessdata.sh").split())

lines = (root / "engine/src/registry/languages.tsv").read_text().splitlines()
print("| code | name | script | family | packs | installed by default |")
print("|---|---|---|---|---|---|")
for line in lines[1:]:
    if not line.strip() or line.startswith("#"):
        continue
    code, name, script, packs = line.split("\t")[:4]
    packs = packs.strip() or "-"
    if code in ppocr:
        family, installed = "pp-ocrv6", True  # `make models` always fetches PP-OCRv6
    elif packs != "-":
        family, installed = "tesseract", set(packs.split("+")) <= default
    else:
        family, installed = "-", False  # no OCR model: the VLM tier only
    print(f"| `{code}` | {name} | {script} | {family} | {packs} | {'yes' if installed else 'no'} |")
print()
print("Family `-`: no OCR model exists for the language; only the VLM tier accepts it.")
print("Add packs with `make models LANGS=\"rus ara …\"` (scripts/fetch-tessdata.sh; `all` fetches every pack).")
