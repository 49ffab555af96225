"""The CSV reader tells which columns hold no value a ``trim`` would change, and a run's
``trim`` leaves those alone. The engine hands that word on for every column but those a
PII policy replaced (the reader saw their values before the policy did)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sluice.transforms import StepRunner

PROJECT = """
warehouse: sqlite:///{warehouse}
pipelines:
  p:
    sources:
      s:
        type: file
        path: people.csv
    transforms:
      - trim: all
    table:
      name: people
      columns:
        id: {{type: integer, required: true}}
        name: string
        city: string
        email: {{type: string{pii}}}
"""


@pytest.mark.parametrize("pii", ["", ", pii: mask"])
def test_a_run_trims_only_the_columns_whose_values_need_it(
    make_project: Any, run_project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pii: str
) -> None:
    told: list[frozenset[str]] = []
    run_lazy = StepRunner.run_lazy

    def spying(self: StepRunner, data: pl.DataFrame, trimmed: frozenset[str] = frozenset()) -> Any:
        told.append(trimmed)
        return run_lazy(self, data, trimmed)

    monkeypatch.setattr(StepRunner, "run_lazy", spying)
    csv = (
        "id,name,city,email\n1,Ada, Paris ,ada@example.com\n2,Grace,Lyon ,grace@example.com\n"
        "3,Zo\u00eb\u00a0,Berlin,zoe@example.com\n"  # a no-break space ends a name
    )
    root = make_project(
        PROJECT.format(warehouse=tmp_path / "w.db", pii=pii), {"people.csv": csv.encode()}
    )
    out = run_project(root)
    assert out.status == "succeeded"
    # `city` and `name` have padded values (a no-break space is one): trimmed. The
    # others have none: left alone, but a masked `email`, whose values the reader never
    # saw.
    assert told == [frozenset({"id"} | ({"email"} if not pii else set()))]
    rows = out.rows()
    assert [(r["name"], r["city"]) for r in rows] == [
        ("Ada", "Paris"),
        ("Grace", "Lyon"),
        ("Zo\u00eb", "Berlin"),
    ]
    assert [r["email"].startswith("ada@") for r in rows] == [not pii, False, False]
