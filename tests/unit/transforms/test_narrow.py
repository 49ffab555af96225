"""Values a narrower table column would change (a table its owner made) are refused,
each reason naming the ways on; the step a reason names makes the value fit."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from sluice.batch import LINE
from sluice.config import TableConfig, parse_project
from sluice.schema import Narrow
from sluice.transforms import Validator
from sluice.transforms.cast import MORE_PLACES_NOTE
from sluice.transforms.steps import StepRunner

REFUSED = "is not a valid decimal (at most 32 digits before the point and 6 after)"


def _narrowed(
    type_: str, narrow: Narrow, values: list[object]
) -> tuple[pl.DataFrame, dict[int, list[str]]]:
    table = TableConfig.model_validate({"name": "t", "columns": {"x": type_}})
    frame = pl.DataFrame({"x": values, LINE: list(range(2, len(values) + 2))})
    ok, bad = Validator(table, narrow={"x": narrow}).run(frame)
    return ok, {int(r[LINE]): list(r["_reasons"]) for r in bad.iter_rows(named=True)}


def test_a_narrow_decimal_column_refuses_what_it_would_round_or_could_not_hold() -> None:
    texts = ["12.5", "12.345", "-0.001", "99999999.99", "100000000", "-100000000.5", "1.1234567"]
    ok, reasons = _narrowed("decimal", Narrow("NUMERIC(10, 2)", places=(10, 2)), texts)
    assert ok.get_column("x").to_list() == [Decimal("12.5"), Decimal("99999999.99")]
    column = "the table's column x (NUMERIC(10, 2))"
    more = f"has more places after the point than the 2 {column} keeps (the database"
    big = f"has more than 8 digits before the point, which {column} holds: widen"
    assert {n: len(r) for n, r in reasons.items()} == {3: 1, 4: 1, 6: 1, 7: 1, 8: 1}
    assert reasons[3][0].startswith(f"x: '12.345' {more}")
    assert reasons[4][0].startswith(f"x: '-0.001' {more}")
    assert reasons[6][0].startswith(f"x: '100000000' {big}")
    assert reasons[7][0].startswith(f"x: '-100000000.5' {big}")
    # past any decimal, as before, but the step it names rounds to what the table keeps
    two = MORE_PLACES_NOTE.format(name="x", scale=2, keeps=f"{column} keeps")
    assert reasons[8] == [f"x: '1.1234567' {REFUSED}{two}"]
    assert "decimal(38, 2)" in two


def test_a_datetime_column_of_whole_seconds_refuses_a_fraction_and_the_step_cuts_it() -> None:
    texts = ["2024-01-05 10:00:00", "2024-01-05 10:00:00.5", "2024-01-05T10:00:00.000+02:00"]
    texts += ["2024-01-05 10:00:00.000001Z"]
    ok, reasons = _narrowed("datetime", Narrow("DATETIME", fraction=0), texts)
    assert ok.get_column(LINE).to_list() == [2, 4]
    assert sorted(reasons) == [3, 5]
    said = reasons[3][0]
    assert said.startswith(
        "x: '2024-01-05 10:00:00.5' has a fraction of a second past the 0 digit(s) "
        "the table's column x (DATETIME) keeps"
    )
    step = said.split("add the step ")[1].split(", then `")[0]
    project = parse_project(
        "pipelines:\n  p:\n    sources: {s: {type: file, path: a.csv}}\n"
        f"    transforms:\n      - {step}\n    table: {{name: t, columns: {{x: datetime}}}}\n"
    )
    dotted = ["05.01.2024 10:00:00.75", "2024-01-05 10:00:00.5+02:00", None]
    frame = pl.DataFrame({"x": dotted, LINE: [2, 3, 4]})
    stepped = StepRunner(project.pipeline("p"), ["x"]).run(frame).get_column("x").to_list()
    assert stepped == ["05.01.2024 10:00:00", "2024-01-05 10:00:00+02:00", None]


def test_a_4_byte_float_column_refuses_what_it_would_show_otherwise() -> None:
    values = ["0.1", "1.5", "1.23456789", "16777217", "1e39", "123456.7", None]
    ok, reasons = _narrowed("float", Narrow("REAL", single=True), values)
    assert ok.get_column("x").to_list() == [0.1, 1.5, 123456.7, None]
    assert sorted(reasons) == [4, 5, 6]
    assert reasons[4][0].startswith(
        "x: '1.23456789' has more digits than the table's column x (REAL) keeps (a 4-byte"
    )


def test_an_integer_column_narrower_than_bigint_refuses_what_it_cannot_hold() -> None:
    values = ["32767", "-32768", "32768", "-40000", "7", None]
    ok, reasons = _narrowed("integer", Narrow("SMALLINT", bounds=(-32768, 32767)), values)
    assert ok.get_column("x").to_list() == [32767, -32768, 7, None]
    assert reasons == {
        4: [
            "x: '32768' is past what the table's column x (SMALLINT) holds (-32768 to "
            "32767): widen the column in the warehouse (a declared integer is made BIGINT), "
            "then `sluice quarantine replay`"
        ],
        5: [reasons[5][0]],
    }
    assert reasons[5][0].startswith("x: '-40000' is past what")
    unsigned = Narrow("INT UNSIGNED", bounds=(0, 2**32 - 1))
    ok, reasons = _narrowed("integer", unsigned, ["0", "-1", "4294967296"])
    assert sorted(reasons) == [3, 4]


def test_a_string_longer_than_its_column_holds_is_refused_its_start_shown() -> None:
    long = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do"
    values = [
        "abcde",
        "abcdef",
        "\u00e9\u00e9\u00e9\u00e9\u00e9",
        long,
        None,
    ]  # characters, not bytes
    ok, reasons = _narrowed("string", Narrow("VARCHAR(5)", length=5), values)
    assert ok.get_column("x").to_list() == ["abcde", "\u00e9" * 5, None]
    column = "longer than the 5 the table's column x (VARCHAR(5)) holds"
    assert reasons == {
        3: [
            f"x: 'abcdef' has 6 characters, {column}: widen the column in the warehouse, "
            "then `sluice quarantine replay`"
        ],
        5: [
            f"x: '{long[:40]}...' has {len(long)} characters, {column}: widen the column in "
            "the warehouse, then `sluice quarantine replay`"
        ],
    }


@pytest.mark.parametrize(
    ("charset", "refused"),
    [
        # MySQL's old utf8 stops at U+FFFF; its latin1 is Windows-1252; ascii at U+007F
        ("utf8mb3", {"pizza \U0001f355": "\U0001f355"}),
        ("latin1", {"\u65e5\u672c": "\u65e5", "pizza \U0001f355": "\U0001f355"}),
        (
            "ascii",
            {
                "caf\u00e9": "\u00e9",
                "\u20ac5 \u201cok\u201d": "\u20ac",
                "\u65e5\u672c": "\u65e5",
                "pizza \U0001f355": "\U0001f355",
            },
        ),
    ],
)
def test_a_character_a_columns_character_set_cannot_store_is_refused_and_named(
    charset: str, refused: dict[str, str]
) -> None:
    values = ["plain", "caf\u00e9", "\u20ac5 \u201cok\u201d", "\u65e5\u672c", "pizza \U0001f355"]
    shown = f"VARCHAR(50) CHARACTER SET {charset} COLLATE {charset}_bin"
    ok, reasons = _narrowed("string", Narrow(shown, charset=charset), [*values, None])
    assert ok.get_column("x").to_list() == [v for v in values if v not in refused] + [None]
    said = {values[n - 2]: r for n, (r,) in reasons.items()}
    assert {v: r.split("' holds '")[1].split("'")[0] for v, r in said.items()} == refused
    for r in said.values():
        assert r.endswith(
            f"(its character set is {charset}): convert the column to utf8mb4 in the "
            "warehouse (MODIFY x VARCHAR(50) CHARACTER SET utf8mb4), then "
            "`sluice quarantine replay`"
        )


def test_a_mysql_timestamp_refuses_a_time_past_its_span() -> None:
    from sluice.destinations.found_kept import TIMESTAMP_SPAN

    values = ["1970-01-01 00:00:01Z", "1970-01-01 00:00:00Z", "1960-01-05 10:00:00"]
    values += ["2038-01-19 03:14:07Z", "2038-01-19 04:14:08+01:00", "2040-01-05 10:00:00", None]
    ok, reasons = _narrowed("datetime", Narrow("TIMESTAMP", span=TIMESTAMP_SPAN), values)
    assert ok.get_column(LINE).to_list() == [2, 5, 8]
    assert reasons[4] == [
        "x: '1960-01-05 10:00:00' is past what the table's column x (TIMESTAMP) holds "
        "(1970-01-01 00:00:01 to 2038-01-19 03:14:07 UTC): widen the column in the "
        "warehouse (DATETIME(6), as sluice makes a datetime), then `sluice quarantine replay`"
    ]
    assert sorted(reasons) == [3, 4, 6, 7]


def test_an_enumerated_column_refuses_a_value_it_does_not_hold_exactly() -> None:
    # MySQL's ENUM stored ACTIVE as active and 'on hold ' as 'on hold'
    values = ["active", "on hold", "ACTIVE", "on hold ", "closed", None]
    narrow = Narrow("ENUM('active','on hold')", accepted=("active", "on hold"))
    ok, reasons = _narrowed("string", narrow, values)
    assert ok.get_column("x").to_list() == ["active", "on hold", None]
    assert reasons[4] == [
        "x: 'ACTIVE' is not one of the values the table's column x (ENUM('active','on hold')) "
        "holds (active, on hold; exactly, case and spaces too): map it to one with a derive "
        "step, or add it to the column's type in the warehouse, then `sluice quarantine replay`"
    ]
    assert sorted(reasons) == [4, 5, 6]
    many = Narrow("e", accepted=tuple(f"v{i}" for i in range(12)))
    _, reasons = _narrowed("string", many, ["w"])
    assert "(v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, ...; exactly" in reasons[2][0]


def test_a_float_column_with_places_refuses_more_places_or_digits() -> None:
    texts = ["12.5", "1234.567", "12345.6", "0.1", "-9999.99", "1e-3", "9999.995"]
    ok, reasons = _narrowed("float", Narrow("FLOAT(6, 2)", float_places=(6, 2)), texts)
    assert ok.get_column("x").to_list() == [12.5, 0.1, -9999.99]
    assert sorted(reasons) == [3, 4, 7, 8]
    assert "more places after the point than the 2" in reasons[3][0]
    assert "more than 4 digits before the point" in reasons[4][0]
    assert "(DOUBLE, as sluice makes a float)" in reasons[4][0]


@pytest.mark.parametrize(("charset", "size"), [(None, 7), ("latin1", 4)])
def test_a_text_column_refuses_more_bytes_than_it_holds(charset: str | None, size: int) -> None:
    # utf8mb4 stores as UTF-8 does (2 bytes for an é); latin1 one byte a character
    narrow = Narrow("TEXT", octets=6, charset=charset)
    ok, reasons = _narrowed("string", narrow, ["abc", "\u00e9\u00e9\u00e9s", None])
    assert ok.height == (3 if size <= 6 else 2)
    if size > 6:
        assert reasons[3][0].startswith(
            f"x: '\u00e9\u00e9\u00e9s' has {size} bytes, longer than the 6"
        )


def test_a_uuid_column_refuses_what_postgresql_would_not_read_and_the_step_nulls_it() -> None:
    texts = ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "n/a", "{A0EEBC999C0B4EF8BB6D6BB9BD380A11}"]
    ok, reasons = _narrowed("string", Narrow("UUID", uuid=True), [*texts, None])
    assert ok.height == 3
    assert list(reasons) == [3]
    step = reasons[3][0].split("add the step derive: ")[1].split("}, then")[0] + "}"
    sql = step.split('sql: "')[1].rsplit('"', 1)[0]
    nulled = pl.DataFrame({"x": texts}).select(pl.sql_expr(sql).alias("x"))
    assert nulled.get_column("x").to_list() == [texts[0], None, texts[2]]
