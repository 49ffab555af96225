"""What is near a path pattern that matched no file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.sources.nearby import explain


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("data/source1/a.CSV", "data/source1/b.txt", "data/source2/x.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    (tmp_path / "empty").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    ("pattern", "said"),
    [
        ("data/Source1/*.csv", "there is no folder data/Source1; did you mean data/source1?"),
        ("data/source1/*.csv", "data/source1/a.CSV matches when case is ignored"),
        ("data/sorce3/*.csv", "there is no folder data/sorce3; did you mean data/source"),
        ("data/source1/*.json", "data/source1 holds a.CSV, b.txt"),
        ("empty/*.csv", "the folder empty is empty"),
        ("data/source1", "data/source1 is a folder: write data/source1/* to read its files"),
        (
            "data/source1/a.csv",
            "there is no file data/source1/a.csv; did you mean data/source1/a.CSV?",
        ),
        ("dta/*/*.csv", "there is no folder dta; did you mean data?"),
        ("data/**/*.Csv", "data/source1/a.CSV, data/source2/x.csv match when case is ignored"),
    ],
)
def test_explain_says_what_is_near(root: Path, pattern: str, said: str) -> None:
    assert explain(pattern, root).startswith(said)


def test_explain_absolute_patterns(root: Path) -> None:
    assert explain(str(root / "Data" / "*.csv"), root).endswith("did you mean data?")
