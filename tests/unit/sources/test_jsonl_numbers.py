"""JSON numbers load as written. Polars read a number with a fraction through a double:
``12345678901234567890.5`` loaded as 12345678901234567000 into a decimal column, without a
word. And a number no reader holds (``1e400``) set the whole file aside, its reason
naming the first line of a 4 MiB block."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import polars as pl
import pytest

from sluice.batch import LINE
from sluice.sources.jsonl_reader import read_jsonl


def read(data: bytes, block: int = 2048) -> tuple[pl.DataFrame, dict[int, str]]:
    _, batches = read_jsonl(
        lambda: io.BytesIO(data), stream="s", unit="u", block_size=block, flatten=True
    )
    got = list(batches())
    rejects = {r.line: r.reason for b in got for r in b.rejects}
    return pl.concat([b.data for b in got], how="diagonal_relaxed"), rejects


# Numbers as APIs and ledgers write them: more digits than a double keeps, whole numbers
# past 2**53 with a fraction, a tiny exponent, and ordinary ones.
WRITTEN = [
    "12345678901234567890.5",
    "9007199254740993.5",
    "0.12345678901234567890123",
    "1.10",
    "-0.000000000000000012345678901234567",
    "1e300",
    "42",
    "3.25",
]


@pytest.mark.parametrize("first", ["3.25", "12345678901234567890.5"])
def test_every_number_is_the_text_python_reads_in_every_block(first: str) -> None:
    # As Python's json reads each, as Decimal: nothing rounded on our side. The first
    # block (inferred) and the later ones (read with its schema) alike; the number
    # nested two objects down (flattened) too.
    lines = [f'{{"id":0,"amount":{first},"geo":{{"pos":{{"lat":{first}}}}}}}']
    for i in range(1, 400):
        n = WRITTEN[i % len(WRITTEN)]
        lines.append(f'{{"id":{i},"amount":{n},"geo":{{"pos":{{"lat":{n}}}}}}}')
    out, rejects = read(("\n".join(lines) + "\n").encode())
    assert rejects == {}
    assert out.height == 400
    for row in out.iter_rows(named=True):
        want = json.loads(lines[int(row["id"])], parse_float=Decimal, parse_int=Decimal)
        assert Decimal(row["amount"]) == want["amount"], row
        assert Decimal(row["geo_pos_lat"]) == want["geo"]["pos"]["lat"], row


def test_long_integers_and_long_text_are_left_as_they_are() -> None:
    # 19-digit ids (a tweet's) are exact as Polars reads them; a text field of digits
    # that is no number is text. Neither changes.
    lines = [
        json.dumps({"id": 1234567890123456789 + i, "code": "12345678901234567890.5", "x": 1.5})
        for i in range(200)
    ]
    out, _ = read(("\n".join(lines) + "\n").encode())
    assert out.get_column("id").to_list() == [str(1234567890123456789 + i) for i in range(200)]
    assert set(out.get_column("code").to_list()) == {"12345678901234567890.5"}


def test_numbers_no_reader_holds_are_rejected_lines_with_their_reason() -> None:
    lines = [json.dumps({"id": i, "f": i + 0.5}) for i in range(300)]
    lines[5] = '{"id": 5, "f": 1e400}'
    lines[200] = '{"id": 200, "f": -1.8e308}'
    lines[250] = f'{{"id": 250, "f": {2**127}}}'
    out, rejects = read(("\n".join(lines) + "\n").encode())
    assert rejects == {
        6: "line holds the number 1e400, past what a double holds (magnitudes to 1.8e308): "
        "write it as a string (in quotes) to load its text",
        201: "line holds the number -1.8e308, past what a double holds (magnitudes to "
        "1.8e308): write it as a string (in quotes) to load its text",
        251: f"line holds the number {2**127}, an integer past what is read "
        "(2**127): write it as a string (in quotes) to load its text",
    }
    assert out.height == 297
    assert 6 not in out.get_column(LINE).to_list()


def test_numbers_of_16_to_22_digits_load_as_written() -> None:
    # Random numbers of more digits than a double keeps, at every magnitude, beside the
    # shortest texts of doubles (written as they are, so found in their lines as they are)
    import random

    rng = random.Random(7)
    lines = []
    for i in range(600):
        digits = str(rng.randint(10**15, 10**22))
        point = rng.randint(-3, len(digits) - 1)
        if point <= 0:
            number = "0." + "0" * -point + digits
        else:
            number = digits[:point] + "." + digits[point:]
        double = repr(rng.random() * 10 ** rng.randint(-5, 5))
        lines.append(f'{{"id":{i},"n":{"-" * (i % 2)}{number},"d":{double}}}')
    out, _ = read(("\n".join(lines) + "\n").encode(), block=8192)
    assert out.height == 600
    for row in out.iter_rows(named=True):
        want = json.loads(lines[int(row["id"])], parse_float=str)
        assert (row["n"], row["d"]) == (want["n"], want["d"])


# Zeros as writers write them, beside numbers too small for a double (a physics
# export's underflow, a ledger's 0E-400) that Polars read as 0.
ZERO_OR_TINY = [
    "0",
    "-0",
    "0.0",
    "0.000",
    "0e0",
    "-0.0",
    "0E-400",
    "1e-400",
    "-2.5e-330",
    "4.9e-325",
    "1234e-327",
    "3e-5",
    "5e-324",
]


@pytest.mark.parametrize("first", ["0.5", "1e-400"])
def test_a_number_too_small_for_a_double_is_its_text_not_zero(first: str) -> None:
    # Every value equals the number Python's json reads (as Decimal): a tiny number is
    # not 0, in the first block and the later ones, and beside a 0 in another field.
    lines = [f'{{"id":0,"other":0,"x":{first},"geo":{{"lat":{first}}}}}']
    for i in range(1, 300):
        n = ZERO_OR_TINY[i % len(ZERO_OR_TINY)]
        lines.append(f'{{"id":{i},"other":0,"x":{n},"geo":{{"lat":{n}}}}}')
    out, rejects = read(("\n".join(lines) + "\n").encode())
    assert rejects == {}
    assert out.height == 300
    for row in out.iter_rows(named=True):
        want = json.loads(lines[int(row["id"])], parse_float=Decimal, parse_int=Decimal)
        assert Decimal(row["x"]) == want["x"], row
        assert Decimal(row["geo_lat"]) == want["geo"]["lat"], row
        assert row["other"] == "0"
    assert "1e-400" in out.get_column("x").to_list()


def test_a_block_of_plain_zeros_reads_no_line_again() -> None:
    # A column of zeros and no negative exponent in the block: nothing is read again
    # (the lines are not asked for).
    from sluice.sources.jsonl_numbers import as_written

    text = pl.DataFrame({"x": ["0", "0.5", "-0"] * 100})
    asked: list[int] = []

    def lines() -> list[bytes]:
        asked.append(1)
        return [b"{}"] * 300

    assert as_written(text, {"x": (("x",), True)}, lines, tiny=False).equals(text)
    assert asked == []
    as_written(text, {"x": (("x",), True)}, lines, tiny=True)
    assert asked == [1]


def test_a_number_in_a_field_written_in_quotes_or_null_before_keeps_its_digits() -> None:
    # An API that quoted its amounts in the first records ("1.25") or left a field
    # null, and wrote them as numbers later: read through a double, the later block
    # gave "12345678901234567000" and "-0". Text written in quotes stays as written.
    lines = [json.dumps({"id": i, "d": "1.25", "e": None, "who": "Ann"}) for i in range(2000)]
    lines[1500] = '{"id": 1500, "d": 12345678901234567890.5, "e": 98765432109876543210.5}'
    lines[1600] = '{"id": 1600, "d": -2.5e-330, "e": 1e-400, "who": 1e-400}'
    lines[1700] = '{"id": 1700, "d": "12345678901234567890.5", "e": "0", "who": "0.5"}'
    out, rejects = read(("\n".join(lines) + "\n").encode(), block=8192)
    assert rejects == {}
    got = {r["id"]: (r["d"], r["e"]) for r in out.iter_rows(named=True) if r["id"] > "1499"}
    assert got["1500"] == ("12345678901234567890.5", "98765432109876543210.5")
    assert got["1600"] == ("-2.5e-330", "1e-400")
    assert got["1700"] == ("12345678901234567890.5", "0")


def test_a_text_column_of_names_is_not_looked_at_again() -> None:
    # Names, hashes, e-mails in the first block: a later block's text is as Polars
    # read it, without a look at its lines (the cost of every block).
    from sluice.sources.jsonl_numbers import number_leaves, text_of_numbers

    first = pl.DataFrame({"who": ["Ann", None], "amount": ["1.25", " 3 "], "none": [None, None]})
    leaves = number_leaves({"who": pl.String, "amount": pl.String, "none": pl.Null}, flatten=True)
    assert set(text_of_numbers(first, leaves)) == {"amount", "none"}
