"""Start-up lines: how long a command takes before it does anything, against the bare
interpreter.

    .venv/bin/python bench/startup.py [--repeat 7]

Each command runs ``--repeat`` times, the commands in turn (round robin, so that the
machine's drift hits each alike); its figure is the median wall time of its runs, and
its overhead is that median less the median of ``python -c pass`` with the same
interpreter (the venv's, which the ``sluice`` script also runs on). A command that
exits non-zero is recorded as not available (``sluice --version`` before it exists),
not measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from harness import ROOT, SLUICE_CMD

#: (key, label, argv): the interpreter first (the floor), then the commands
COMMANDS: list[tuple[str, str, list[str]]] = [
    ("python", "python -c pass", [sys.executable, "-c", "pass"]),
    ("version", "sluice --version", [SLUICE_CMD, "--version"]),
    (
        "validate",
        "sluice validate --project examples/leads",
        [SLUICE_CMD, "validate", "--project", "examples/leads"],
    ),
    ("import", 'python -c "import sluice"', [sys.executable, "-c", "import sluice"]),
]


def _once(argv: list[str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    return time.perf_counter() - start, res.returncode, res.stderr


def _last_words(stderr: str) -> str:
    """The last line of an error output that says something (not a box's border)."""
    for line in reversed(stderr.splitlines()):
        words = line.strip(" │╭╮╰╯─")
        if any(c.isalnum() for c in words):
            return words[:120]
    return ""


def measure_startup(repeat: int = 7) -> dict[str, dict[str, Any]]:
    """key -> {key, name, seconds (the median), all_seconds, overhead_s} or {key, name, error}."""
    out: dict[str, dict[str, Any]] = {}
    for key, name, argv in COMMANDS:
        _, code, err = _once(argv)  # a warm-up, and the check that it works
        out[key] = {"key": key, "name": name}
        if code != 0:
            out[key]["error"] = f"not available (exit code {code}: {_last_words(err)})"
        else:
            out[key]["all_seconds"] = []
    for _ in range(repeat):
        for key, _name, argv in COMMANDS:
            if "error" in out[key]:
                continue
            seconds, code, err = _once(argv)
            if code != 0:
                out[key]["error"] = f"exit code {code} on a later run: {err.strip()[-200:]}"
                continue
            out[key]["all_seconds"].append(round(seconds, 4))
    base = out["python"]
    if "error" in base:
        raise RuntimeError(f"python -c pass failed: {base['error']}")
    base["seconds"] = statistics.median(base["all_seconds"])
    for line in out.values():
        if "error" in line:
            line.pop("all_seconds", None)
            continue
        line["seconds"] = statistics.median(line["all_seconds"])
        line["overhead_s"] = line["seconds"] - base["seconds"]
    return out


def print_startup(lines: dict[str, dict[str, Any]]) -> None:
    print(f"{'start-up':<42} {'median s':>9} {'above python':>13}  runs (s)")
    for line in lines.values():
        if "error" in line:
            print(f"{line['name']:<42} {line['error']}")
            continue
        above = "-" if line["key"] == "python" else f"{line['overhead_s']:+.3f}"
        runs = ", ".join(f"{s:.3f}" for s in line["all_seconds"])
        print(f"{line['name']:<42} {line['seconds']:>9.3f} {above:>13}  {runs}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    lines = measure_startup(args.repeat)
    if args.json:
        print(json.dumps(lines, indent=1))
    else:
        print_startup(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
