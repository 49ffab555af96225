"""Every target of issue 15 in one table, from the latest results files.

    .venv/bin/python bench/summary.py [--results DIR] [--strict]

Reads bench/results/latest.json (bench/run.py), normalize.json (bench/normalize/run.py)
and celery.json (bench/celery/run.py) and prints, per target (bench/targets.py): the
workload, its floor, the floor's figure and sluice's from the same run, the ratio, the
target and PASS or FAIL. A target whose figures are missing says which command
measures it. The table is Markdown. Exit code 0, or with ``--strict`` 1 when a target
fails or was not measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from targets import TARGETS, WRITERS, Target, Verdict

RESULTS = Path(__file__).resolve().parent / "results"
HEADER = ["workload", "floor", "floor figure", "sluice figure", "ratio", "target", "result"]


def load(results: Path) -> dict[str, dict[str, Any] | None]:
    """Each results file's contents (None: not there or unreadable)."""
    out: dict[str, dict[str, Any] | None] = {}
    for source in WRITERS:
        path = results / f"{source}.json"
        try:
            out[source] = json.loads(path.read_text())
        except (OSError, ValueError):
            out[source] = None
    return out


def verdicts(
    files: dict[str, dict[str, Any] | None], targets: Iterable[Target] = TARGETS
) -> list[tuple[Target, Verdict]]:
    out = []
    for t in targets:
        data = files.get(t.source)
        out.append(
            (
                t,
                Verdict(note=f"not measured: run {WRITERS[t.source]}")
                if data is None
                else t.judge(data),
            )
        )
    return out


def result_text(v: Verdict) -> str:
    if v.ok is None:
        return v.note
    word = "PASS" if v.ok else "FAIL"
    return f"{word} ({v.note})" if v.note else word


def table(rows: list[tuple[Target, Verdict]]) -> str:
    """An aligned Markdown table."""
    cells = [HEADER] + [
        [t.workload, t.floor, v.floor_figure, v.sluice_figure, v.ratio, t.target, result_text(v)]
        for t, v in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(HEADER))]
    numeric = {2, 3, 4}

    def fmt(row: list[str]) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        parts = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in pairs]
        return "| " + " | ".join(parts) + " |"

    rule = (
        "| "
        + " | ".join(
            ("-" * (w - 1) + ":") if i in numeric else "-" * w for i, w in enumerate(widths)
        )
        + " |"
    )
    return "\n".join([fmt(cells[0]), rule, *(fmt(r) for r in cells[1:])])


def provenance(files: dict[str, dict[str, Any] | None]) -> list[str]:
    """One line per results file: when, how big, how many runs."""
    lines = []
    for source, data in files.items():
        if data is None:
            lines.append(f"- {source}.json: missing (run {WRITERS[source]})")
            continue
        when = data.get("generated_at") or data.get("when") or "?"
        size = ""
        if source == "latest":
            size = f"{data.get('rows', 0):,} rows, median of {data.get('repeat', 1)}"
            earlier = sorted(
                f"{ln['key']} {ln['measured_at']}"
                for ln in data.get("results") or []
                if ln.get("measured_at") not in (None, when)
            )
            if data.get("startup_measured_at") not in (None, when):
                earlier.append(f"startup {data['startup_measured_at']}")
            if earlier:
                size += "; kept from earlier runs: " + ", ".join(earlier)
        elif source == "normalize":
            size = f"{data.get('records', 0):,} records, median of {data.get('median_of', 1)}"
        elif source == "celery":
            rows = (data.get("input") or {}).get("rows", 0)
            size = f"{rows:,} rows, median of {data.get('repeat', 1)}"
        lines.append(f"- {source}.json ({WRITERS[source]}): {when}, {size}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=RESULTS, help="the results folder")
    ap.add_argument("--strict", action="store_true", help="exit 1 unless every target passes")
    args = ap.parse_args(argv)
    files = load(args.results)
    rows = verdicts(files)
    print(table(rows))
    print()
    print("\n".join(provenance(files)))
    passed = sum(1 for _, v in rows if v.ok)
    failed = sum(1 for _, v in rows if v.ok is False)
    print(f"\n{passed} passed, {failed} failed, {len(rows) - passed - failed} not measured")
    return 1 if args.strict and passed < len(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
