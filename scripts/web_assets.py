#!/usr/bin/env python3
"""Finishes `trunk build` output for serving (`make web` runs it on dist/).

1. Content-hashed names: every .js/.wasm/.css except the files other pages and
   caches know by name (sw.js, widget.js, the worker loaders) becomes
   `name-<first 16 hex of its sha256>.ext`, leaves (wasm, css) first, then the
   scripts that name them. References in the other files (index.html, the
   loaders, sw.js, widget.js) are rewritten to the new names, and sw.js's cache
   name `ocrchat-shell-dev` becomes `ocrchat-shell-<release hash>`. The server
   serves hashed names as immutable and the rest as no-cache
   (server/src/api/assets.rs).
2. Precompression: `name.br` (brotli -q 11, Debian's `brotli`) and `name.gz`
   (gzip -9) beside every compressible file, kept only when smaller; the server
   picks one by the request's Accept-Encoding.

usage: web_assets.py DIST_DIR
       web_assets.py --compress-only DIR   (step 2 only, models too, brotli optional: models/, the bench's tesseract.js)
"""
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Known by name from outside: other origins (widget.js), the browser's service
# worker registration (sw.js), the page's `new Worker(...)` (the loaders).
STABLE = {"sw.js", "widget.js", "worker_loader.js", "worker_full_loader.js"}
HASHABLE = (".wasm", ".css", ".js")
COMPRESSIBLE = (".html", ".js", ".mjs", ".css", ".wasm", ".json", ".svg", ".txt")
TEXT = (".html", ".js", ".css")
HASHED = re.compile(r"-[0-9a-f]{16}\.[a-z]+$")


def sha16(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def rewrite(path: Path, names: dict) -> None:
    """Replaces every whole-name reference to an old name in a text file."""
    if not names:
        return
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")(?![\w-])")
    new = pattern.sub(lambda m: names[m.group(1)], text)
    if new != text:
        path.write_text(new, encoding="utf-8")


def hash_names(dist: Path) -> dict:
    files = [p for p in dist.iterdir() if p.is_file() and p.suffix in HASHABLE and p.name not in STABLE
             and not HASHED.search(p.name)]
    if (dist / "snippets").exists():
        sys.exit("web_assets: dist/snippets/ (wasm-bindgen inline JS) is not handled: hash it before using snippets")
    renamed = {}
    # Leaves first: wasm and css name nothing; the js glue may name its wasm.
    for group in ([p for p in files if p.suffix != ".js"], [p for p in files if p.suffix == ".js"]):
        for p in group:
            if p.suffix in TEXT:
                rewrite(p, renamed)
            new = f"{p.stem}-{sha16(p)}{p.suffix}"
            p.rename(dist / new)
            renamed[p.name] = new
    for p in dist.iterdir():
        if p.is_file() and p.suffix in TEXT and not HASHED.search(p.name):
            rewrite(p, renamed)
    # The release: every file's name and content (sw.js's before its cache name is set).
    release = hashlib.sha256()
    for p in sorted(q for q in dist.iterdir() if q.is_file()):
        release.update(p.name.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    release = release.hexdigest()[:16]
    sw = dist / "sw.js"
    if sw.is_file():
        text = sw.read_text(encoding="utf-8")
        if "ocrchat-shell-dev" not in text:
            sys.exit("web_assets: sw.js has no 'ocrchat-shell-dev' cache name to version")
        sw.write_text(text.replace("ocrchat-shell-dev", f"ocrchat-shell-{release}"), encoding="utf-8")
    return renamed


def compress(path: Path, brotli: str | None, quality: int) -> None:
    gz, br = Path(str(path) + ".gz"), Path(str(path) + ".br")
    # Kept when newer than the file (a second `make models` compresses nothing).
    mtime = path.stat().st_mtime
    if gz.is_file() and gz.stat().st_mtime >= mtime and (not brotli or (br.is_file() and br.stat().st_mtime >= mtime)):
        return
    data = path.read_bytes()
    gz.unlink(missing_ok=True)
    br.unlink(missing_ok=True)
    packed = gzip.compress(data, 9, mtime=0)
    if len(packed) < len(data):
        gz.write_bytes(packed)
    if brotli:
        subprocess.run([brotli, "-q", str(quality), "-f", "-o", str(br), str(path)], check=True)
        if br.stat().st_size >= len(data):
            br.unlink()
        else:
            os.utime(br)  # the CLI copies the source's (whole-second) mtime


def main() -> None:
    args = sys.argv[1:]
    compress_only = args[:1] == ["--compress-only"]
    if compress_only:
        args = args[1:]
    if len(args) != 1:
        sys.exit(__doc__)
    dist = Path(args[0])
    if not compress_only and not (dist / "index.html").is_file():
        sys.exit(f"web_assets: {dist}/index.html missing: run trunk build first")
    brotli = shutil.which("brotli")
    if not brotli and not compress_only:
        sys.exit("web_assets: the `brotli` command is missing (Debian package brotli; scripts/install-tools.sh installs it)")
    renamed = {} if compress_only else hash_names(dist)
    # --compress-only also takes models: brotli -q 9 there (weights gain nothing from 11, which is slow).
    compressible = COMPRESSIBLE + ((".traineddata", ".onnx", ".rten") if compress_only else ())
    quality = 9 if compress_only else 11
    # The int8 recogniser is for native onnxruntime only: no browser fetches it.
    todo = [p for p in dist.rglob("*") if p.is_file() and p.suffix in compressible and p.stat().st_size >= 256
            and not p.name.endswith(".int8.onnx")]
    # brotli is single-threaded and slow on the multi-MB wasm files.
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        list(pool.map(lambda p: compress(p, brotli, quality), sorted(todo, key=lambda p: -p.stat().st_size)))
    for old, new in sorted(renamed.items()):
        print(f"web_assets: {old} -> {new}")
    print(f"web_assets: {len(todo)} files precompressed (.br, .gz)")


if __name__ == "__main__":
    main()
