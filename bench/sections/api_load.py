"""results.md section `## API load`: the API load benchmark (`bash bench/run.sh load`,
tests/src/bin/loadgen.rs) writes its section to bench/work/api_load.md; bench.py re-renders
results.md from scratch, so this plugin carries the last measured section over."""
from pathlib import Path

SECTION = Path(__file__).resolve().parent.parent / "work" / "api_load.md"


def render(ctx: dict) -> str:
    return SECTION.read_text(encoding="utf-8") if SECTION.is_file() else ""
