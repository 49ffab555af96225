"""A JSON Lines file's numbers reach the table as the file wrote them, not through a
double: ``12345678901234567890.5`` loaded into PostgreSQL's decimal column as
12345678901234567000, without a word. And a number no reader holds (``1e400``) set the
whole file aside; its line alone is quarantined now, saying which number."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

#: money with more digits than a double keeps (in the first block, where the types are
#: inferred, and in later ones), a trailing zero, an exponent
LINES = [
    '{"id": 1, "amount": 12345678901234567890.5, "rate": 1.50}',
    '{"id": 2, "amount": 0.1, "rate": 2.5e3}',
    '{"id": 3, "amount": 9007199254740993.25, "rate": 1e400}',
]


def _project(make_project: Any, pg_url: str, columns: dict[str, str], lines: list[str]) -> Any:
    """A project loading ``lines`` (one JSON Lines file) into table ``t`` of ``columns``."""
    declared = "".join(f"\n                {name}: {type_}" for name, type_ in columns.items())
    yaml = f"""
        warehouse: {pg_url}
        pipelines:
          p:
            sources:
              s: {{type: file, path: data/*.jsonl}}
            table:
              name: t
              columns:{declared}
        """
    return make_project(yaml, {"data/a.jsonl": "\n".join(lines) + "\n"})


def test_numbers_in_json_lines_load_as_written_into_postgresql(
    make_project, run_project, pg_url: str
) -> None:
    # Many lines after the first: the later blocks are read with the first one's types.
    filler = [json.dumps({"id": i, "amount": i + 0.5, "rate": 1}) for i in range(4, 40_000)]
    tail = '{"id": 40000, "amount": 98765432109876543210.123456, "rate": 2}'
    columns = {"id": "integer", "amount": "decimal", "rate": "string"}
    root = _project(make_project, pg_url, columns, [*LINES, *filler, tail])
    out = run_project(root)
    (entry,) = out.quarantine("row")
    assert (entry.line, entry.reasons) == (
        3,
        [
            "line holds the number 1e400, past what a double holds (magnitudes to 1.8e308): "
            "write it as a string (in quotes) to load its text"
        ],
    )
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        got = dict(
            conn.execute(sa.text("SELECT id, amount FROM t WHERE id IN (1, 2, 40000)")).all()
        )
        rates = dict(conn.execute(sa.text("SELECT id, rate FROM t WHERE id IN (1, 2)")).all())
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 39_999
    engine.dispose()
    assert got == {
        1: Decimal("12345678901234567890.5"),
        2: Decimal("0.1"),
        40000: Decimal("98765432109876543210.123456"),
    }
    # a number a double keeps may come out as the double's text: the same number
    assert {i: Decimal(r) for i, r in rates.items()} == {1: Decimal("1.5"), 2: Decimal("2500")}


def test_a_number_too_small_for_a_double_is_quarantined_not_loaded_as_zero(
    make_project, run_project, pg_url: str
) -> None:
    # A physics export's underflow beside zeros as writers write them: the tiny numbers
    # loaded as 0 into the float and decimal columns, "succeeded". Now each is refused
    # with its reason and the text as written; the zeros load.
    lines = [json.dumps({"id": i, "g": 0.5 + i, "d": "1.25", "n": "-"}) for i in range(1, 50_000)]
    lines[10] = '{"id": 11, "g": 1e-400, "d": 0, "n": "re-run"}'
    lines[20_000] = '{"id": 20001, "g": 0, "d": -2.5e-330, "n": "-"}'
    lines[30_000] = '{"id": 30001, "g": 0.0, "d": 0E-400, "n": "-"}'
    columns = {"id": "integer", "g": "float", "d": "decimal", "n": "string"}
    root = _project(make_project, pg_url, columns, lines)
    out = run_project(root)
    got = sorted((e.line, e.reasons, e.payload) for e in out.quarantine("row"))
    assert [(line, payload["g"], payload["d"]) for line, _, payload in got] == [
        (11, "1e-400", "0"),
        (20001, "0", "-2.5e-330"),
    ]
    assert got[0][1] == [
        "g: '1e-400' is not a valid float; it is past what a float holds (magnitudes "
        "from 5e-324 to 1.8e308)"
    ]
    assert "-2.5e-330" in got[1][1][0]
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        zeros = conn.execute(sa.text("SELECT g, d FROM t WHERE id = 30001")).one()
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 49_997
        assert conn.execute(sa.text("SELECT count(*) FROM t WHERE g = 0 OR d = 0")).scalar() == 1
    engine.dispose()
    assert tuple(zeros) == (0.0, Decimal(0))
