"""The run summary at 80 columns: numbers whole, names folded, the table within 80."""

from __future__ import annotations

from rich.console import Console

from sluice.cli.display import summary
from sluice.engine.report import RunReport


def test_a_summary_of_large_counts_fits_80_columns() -> None:
    r = RunReport(run_id="20261201T010141-b36a6b", pipeline="leads", table="leads", seconds=62.5)
    for name in ("source1", "a_rather_long_source_name"):
        s = r.stream(name)
        s.counts.read, s.counts.loaded, s.counts.quarantined = 1_000_000, 994_073, 4_928
        s.counts.filtered = 999
        s.quarantined_files.append({"file": "y.csv", "reason": "drift", "hint": None, "load_id": 2})
        s.skipped_files += [{"file": f"z{i}", "reason": "already loaded"} for i in range(12_345)]
        s.elapsed, s.seconds = 70.0, {"extract": 1.0, "transform": 50.0, "load": 40.0}
    console = Console(width=80, force_terminal=False)
    with console.capture() as cap:
        console.print(summary(r), soft_wrap=True)
    out = cap.get()
    table = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert max(len(line.rstrip()) for line in table) <= 80, out
    for number in ("1,000,000", "994,073", "1,988,146", "4,928", "9,856"):
        assert number in out  # whole, never cut or folded
    assert "   62.50 │" in out  # no stream's seconds above the run's: 70 s shown as 62.50
    assert "seconds: wall time; the stages overlap (busy: extract 2.00, transform 100.00" in out
