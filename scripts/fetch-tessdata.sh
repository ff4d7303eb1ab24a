#!/usr/bin/env bash
# Fetch Tesseract LSTM models (tessdata_fast, Apache-2.0) from Debian's
# tesseract-ocr-* packages — the only place traineddata may come from — and
# install the native library the engine dlopens.
#
#   scripts/fetch-tessdata.sh [default|all|PACK...]   (no argument: default)
#   scripts/fetch-tessdata.sh --list                   valid pack names
#   scripts/fetch-tessdata.sh --relock                 rewrite scripts/tessdata.lock
#
# Every .deb is pinned in scripts/tessdata.lock (package, version, sha256 of
# the .deb, pack name, sha256 of the traineddata): the .deb is checked before
# anything is extracted and the traineddata after. Debs are cached in
# ~/.cache/ocrchat/debs/tessdata/ and nothing is installed from them (dpkg-deb
# -x semantics), so no root is needed for the models. Idempotent: a pack whose
# traineddata is already in place with the locked sha256 is skipped.
# Destination: ${OCRCHAT_TESSDATA:-models/tessdata} (relative to the repo
# root); script packs keep Tesseract's layout, e.g. script/Cyrillic ->
# models/tessdata/script/Cyrillic.traineddata, so `-l script/Cyrillic` works.
# The last line of stdout is the tessdata directory's absolute path.
#
# For the browser worker it also installs tesseract-wasm (npm, pinned below
# with the sha256 of its tarball; cached in ~/.cache/ocrchat/npm/) into
# <tessdata>/wasm/, and writes <tessdata>/manifest.json: every installed pack
# and wasm file with its sha256, which the worker checks what it downloads
# against and the server serves as immutable when asked by that sha256.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
lock="$root/scripts/tessdata.lock"
dest="${OCRCHAT_TESSDATA:-models/tessdata}"
case "$dest" in /*) ;; *) dest="$root/$dest" ;; esac
cache="${OCRCHAT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ocrchat}/debs/tessdata"

# The packs `make models` installs (README's "installed by default" column is
# generated from this line by scripts/languages_table.py; keep it one line).
# Every script group the issue names: Latin (eng), Cyrillic, Greek, Arabic,
# Hebrew, Devanagari (hin, san), Bengali, Tamil, Telugu, Kannada, Thai,
# Korean; Syriac and Thaana because right-to-left support names them; osd for
# `language=auto`. Chinese/Japanese are read by PP-OCRv6, so chi_sim/jpn are opt-in.
DEFAULT_PACKS="osd eng rus ell ara heb hin san ben tam tel kan tha kor syr div"

# Tesseract 5.3.0 compiled to wasm (BSD-2-Clause), for the browser worker.
TESSERACT_WASM_VERSION="0.11.0"
TESSERACT_WASM_SHA256="0d1b399a55028330a3779c331725993ad727db219b9112a899e7bf215ca55014"
TESSERACT_WASM_FILES="lib.js tesseract-core.wasm tesseract-core-fallback.wasm"
npm_cache="${OCRCHAT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ocrchat}/npm"

log() { echo "tessdata: $*" >&2; }
die() { local code="$1"; shift; log "$*"; exit "$code"; }

# apt-get download names a file <package>_<version, ':' as %3a>_<arch>.deb.
deb_path() { local enc="${2//:/%3a}"; echo "$cache/${1}_${enc}_all.deb"; }
sha_ok() { [ -f "$2" ] && echo "$1  $2" | sha256sum -c --quiet - >/dev/null 2>&1; }

# Downloads "package=version" specs into the cache in one apt-get call (one
# connection for many debs). The index is refreshed only when apt says it
# does not know a package or version (stale lists), never on every run.
apt_download() {
  local out
  mkdir -p "$cache"
  # apt-get download writes into the current directory.
  if out="$(cd "$cache" && apt-get download -q "$@" 2>&1)"; then return 0; fi
  if grep -qE "Unable to locate|Can't find a source|not found|Failed to fetch|404" <<<"$out"; then
    log "apt index looks stale; running apt-get update and retrying"
    apt-get update -q >&2 || die 1 "apt-get update failed (need root?)"
    out="$(cd "$cache" && apt-get download -q "$@" 2>&1)" && return 0
  fi
  echo "$out" >&2
  die 1 "apt-get download failed for: $*"
}

# The engine dlopens libtesseract.so.5 at run time (no link-time dependency,
# so no -dev package, headers or compiler are needed); make sure it is there.
ensure_libtesseract() {
  command -v ldconfig >/dev/null 2>&1 || return 0
  # grep without -q reads all of ldconfig's output: an early exit would
  # SIGPIPE ldconfig and, under pipefail, read as "not found".
  ldconfig -p 2>/dev/null | grep 'libtesseract\.so\.5' >/dev/null && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing libtesseract5 (the engine dlopens libtesseract.so.5)"
    apt-get install -y -q --no-install-recommends libtesseract5 >&2 \
      || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends libtesseract5 >&2; } \
      || die 1 "could not install libtesseract5"
  else
    log "warning: libtesseract.so.5 not found; native Tesseract needs: apt-get install --no-install-recommends libtesseract5"
  fi
}

# tesseract-wasm's dist files into $dest/wasm (npm pack: the tarball only,
# no install scripts run). Without npm the browser offers PP-OCR's languages only.
install_wasm() {
  local tgz="$npm_cache/tesseract-wasm-$TESSERACT_WASM_VERSION.tgz" f ok=1
  for f in $TESSERACT_WASM_FILES; do [ -f "$dest/wasm/$f" ] || ok=0; done
  [ -f "$dest/wasm/VERSION" ] && [ "$(cat "$dest/wasm/VERSION")" = "$TESSERACT_WASM_VERSION" ] || ok=0
  [ "$ok" -eq 0 ] || return 0
  if ! sha_ok "$TESSERACT_WASM_SHA256" "$tgz"; then
    command -v npm >/dev/null 2>&1 || { log "warning: npm not found; the browser will not read Tesseract languages"; return 0; }
    mkdir -p "$npm_cache"
    rm -f "$tgz"
    (cd "$npm_cache" && npm pack --silent "tesseract-wasm@$TESSERACT_WASM_VERSION" >/dev/null) \
      || die 1 "npm pack tesseract-wasm@$TESSERACT_WASM_VERSION failed"
    sha_ok "$TESSERACT_WASM_SHA256" "$tgz" || die 1 "sha256 mismatch for $tgz (expected $TESSERACT_WASM_SHA256)"
  fi
  rm -rf "$dest/wasm.tmp" && mkdir -p "$dest/wasm.tmp"
  for f in $TESSERACT_WASM_FILES; do tar -xzf "$tgz" -O "package/dist/$f" >"$dest/wasm.tmp/$f"; done
  tar -xzf "$tgz" -O package/LICENSE.md >"$dest/wasm.tmp/LICENSE.md"
  echo "$TESSERACT_WASM_VERSION" >"$dest/wasm.tmp/VERSION"
  rm -rf "$dest/wasm" && mv "$dest/wasm.tmp" "$dest/wasm"
  log "installed tesseract-wasm $TESSERACT_WASM_VERSION"
}

# $dest/manifest.json: the packs present (sha256 from the lock: each was
# checked against it when installed) and the wasm files. Paths are relative
# to the manifest.
write_manifest() {
  local p first=1 tmp_manifest="$dest/.manifest.json.tmp"
  {
    echo '{'
    echo '  "packs": ['
    for p in "${!entry[@]}"; do echo "$p"; done | LC_ALL=C sort | while read -r p; do
      [ -f "$dest/$p.traineddata" ] || continue
      read -r _ _ _ tsha <<<"${entry[$p]}"
      [ "$first" -eq 1 ] || echo ','
      first=0
      printf '    {"pack": "%s", "file": "%s.traineddata", "sha256": "%s", "bytes": %s}' \
        "$p" "$p" "$tsha" "$(stat -c %s "$dest/$p.traineddata")"
    done
    echo
    echo '  ],'
    echo '  "wasm": ['
    first=1
    if [ -f "$dest/wasm/VERSION" ]; then
      for f in $TESSERACT_WASM_FILES; do
        [ "$first" -eq 1 ] || echo ','
        first=0
        printf '    {"name": "%s", "file": "wasm/%s", "sha256": "%s", "version": "%s"}' \
          "$f" "$f" "$(sha256sum "$dest/wasm/$f" | cut -d' ' -f1)" "$(cat "$dest/wasm/VERSION")"
      done
      echo
    fi
    echo '  ]'
    echo '}'
  } >"$tmp_manifest"
  mv "$tmp_manifest" "$dest/manifest.json"
}

# --relock: pin every Tesseract model package the apt index offers. Model
# packages are those shipping exactly one .traineddata (this drops
# tesseract-ocr itself, -all, -dev, -doc and any future non-model package).
relock() {
  local pkgs pkg deb member pack specs=() tmp="$lock.tmp"
  declare -A ver sha
  pkgs="$(apt-cache search --names-only '^tesseract-ocr-' | awk '{print $1}' \
    | grep -vE -e '-(all|dev|doc)$' | LC_ALL=C sort)"
  [ -n "$pkgs" ] || die 1 "apt-cache knows no tesseract-ocr-* package (run apt-get update)"
  # One apt-cache call for all (per-package calls take minutes).
  # shellcheck disable=SC2086
  while read -r pkg v s; do ver[$pkg]="$v"; sha[$pkg]="$s"; done < <(apt-cache show --no-all-versions $pkgs \
    | awk '/^Package:/{p=$2} /^Version:/{v=$2} /^SHA256:/{print p, v, $2}')
  for pkg in $pkgs; do
    deb="$(deb_path "$pkg" "${ver[$pkg]}")"
    sha_ok "${sha[$pkg]}" "$deb" || { rm -f "$deb"; specs+=("$pkg=${ver[$pkg]}"); }
  done
  [ "${#specs[@]}" -eq 0 ] || { log "downloading ${#specs[@]} debs"; apt_download "${specs[@]}"; }
  {
    echo "# Regenerate with: scripts/fetch-tessdata.sh --relock (pins the apt candidate of every tesseract-ocr-* model package). Columns: package, version, sha256 of the .deb, pack, sha256 of the traineddata"
    for pkg in $pkgs; do
      deb="$(deb_path "$pkg" "${ver[$pkg]}")"
      sha_ok "${sha[$pkg]}" "$deb" || die 1 "sha256 of $deb does not match the apt index"
      member="$(dpkg-deb -c "$deb" | awk '{print $NF}' | grep '\.traineddata$' || true)"
      if [ "$(grep -c . <<<"$member")" -ne 1 ]; then log "skipping $pkg (not one traineddata)"; continue; fi
      pack="$(basename "$member" .traineddata)"
      # Debian ships script models flat (tessdata/Cyrillic.traineddata);
      # upstream and our layout keep them under script/.
      case "$pkg" in tesseract-ocr-script-*) pack="script/$pack" ;; esac
      printf '%s\t%s\t%s\t%s\t%s\n' "$pkg" "${ver[$pkg]}" "${sha[$pkg]}" "$pack" \
        "$(dpkg-deb --fsys-tarfile "$deb" | tar -xO "$member" | sha256sum | cut -d' ' -f1)"
    done
  } >"$tmp"
  mv "$tmp" "$lock"
  log "wrote $(grep -vc '^#' "$lock") packs to $lock"
}

case "${1:-}" in
  --relock) relock; exit 0 ;;
  -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
[ -f "$lock" ] || die 1 "missing $lock (create it with: scripts/fetch-tessdata.sh --relock)"
# pack -> "package version deb_sha td_sha"
declare -A entry
while IFS=$'\t' read -r pkg ver dsha pack tsha; do
  case "$pkg" in ''|'#'*) continue ;; esac
  entry["$pack"]="$pkg $ver $dsha $tsha"
done <"$lock"

[ "${1:-}" != --list ] || { grep -v '^#' "$lock" | cut -f4; exit 0; }

want=()
for arg in "${@:-default}"; do
  case "$arg" in
    default) read -ra d <<<"$DEFAULT_PACKS"; want+=("${d[@]}") ;;
    all) while IFS= read -r p; do want+=("$p"); done < <(grep -v '^#' "$lock" | cut -f4) ;;
    *) [ -n "${entry[$arg]+x}" ] \
         || die 2 "unknown pack '$arg' (packs are Tesseract names such as rus, chi_sim, script/Cyrillic; list them with: scripts/fetch-tessdata.sh --list)"
       want+=("$arg") ;;
  esac
done
mapfile -t want < <(printf '%s\n' "${want[@]}" | awk '!seen[$0]++')
# Also catch a typo in DEFAULT_PACKS.
for p in "${want[@]}"; do [ -n "${entry[$p]+x}" ] || die 2 "unknown pack '$p' in DEFAULT_PACKS"; done

ensure_libtesseract
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"  # absolute and without ../ (printed at the end)

# Which packs are missing or stale, and which of their debs must be downloaded.
todo=() specs=()
for p in "${want[@]}"; do
  read -r pkg ver dsha tsha <<<"${entry[$p]}"
  sha_ok "$tsha" "$dest/$p.traineddata" && continue
  todo+=("$p")
  deb="$(deb_path "$pkg" "$ver")"
  sha_ok "$dsha" "$deb" || { rm -f "$deb"; specs+=("$pkg=$ver"); }
done
if [ "${#todo[@]}" -eq 0 ]; then
  install_wasm
  write_manifest
  log "up to date (${#want[@]} packs) in $dest"
  echo "$dest"
  exit 0
fi
[ "${#specs[@]}" -eq 0 ] || { log "downloading ${#specs[@]} debs from the apt sources"; apt_download "${specs[@]}"; }

tmp=""
trap '[ -z "$tmp" ] || rm -f "$tmp"' EXIT  # no half-written temp file left on ^C
for p in "${todo[@]}"; do
  read -r pkg ver dsha tsha <<<"${entry[$p]}"
  deb="$(deb_path "$pkg" "$ver")"
  sha_ok "$dsha" "$deb" || die 1 "sha256 mismatch for $deb (expected $dsha); refusing to use it"
  out="$dest/$p.traineddata"
  mkdir -p "$(dirname "$out")"
  tmp="$(mktemp "$(dirname "$out")/.$(basename "$out").XXXXXX")"
  # Only the one member is extracted; the path inside the deb differs across
  # Debian releases (tesseract-ocr/4.00/, 5/), and scripts are flat in Debian.
  if ! dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards "*/tessdata/$(basename "$p").traineddata" >"$tmp"; then
    rm -f "$tmp"; die 1 "no $(basename "$p").traineddata inside $deb"
  fi
  sha_ok "$tsha" "$tmp" || { rm -f "$tmp"; die 1 "sha256 mismatch for $p.traineddata from $deb (expected $tsha)"; }
  chmod 0644 "$tmp"
  mv "$tmp" "$out"
  log "installed $p"
done
install_wasm
write_manifest
log "${#todo[@]} installed, $(( ${#want[@]} - ${#todo[@]} )) already in place, in $dest"
echo "$dest"
