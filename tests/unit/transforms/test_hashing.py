"""SHA-256 inside Polars gives hashlib's digests: PII hashes and record keys made before
the plugin (by hashlib) must still match the ones made now."""

from __future__ import annotations

import hashlib

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from sluice.transforms.hashing import sha256_hex
from sluice.transforms.normalize import hash_key
from sluice.transforms.pii import PiiPlan

TRICKY = ["p1@x.org", "", " ", "Zoë Ångström", "名前@例え.jp", "🙂" * 40, "a\x00b", "x" * 5000]


def test_digests_are_hashlibs_and_null_stays_null() -> None:
    out = pl.select(sha256_hex(pl.lit(pl.Series([*TRICKY, None])))).to_series().to_list()
    assert out == [hashlib.sha256(v.encode()).hexdigest() for v in TRICKY] + [None]


@given(st.lists(st.text(), max_size=50), st.text(max_size=20))
def test_salted_digests_match_hashlib_on_any_text(values: list[str], salt: str) -> None:
    df = pl.DataFrame({"v": values}, schema={"v": pl.String})
    got = df.select(sha256_hex(pl.lit(salt) + pl.col("v"))).to_series().to_list()
    assert got == [hashlib.sha256((salt + v).encode()).hexdigest() for v in values]


def test_pii_hash_is_sha256_of_salt_and_value_and_blank_is_null() -> None:
    plan = PiiPlan({"email": ("hash", 0)}, salt="s3cret")
    raw = pl.DataFrame({"email": ["p2@x.org", "  ", None, "Zoë@x.org"]})
    out = plan.apply(raw)["email"].to_list()
    expected = [hashlib.sha256(f"s3cret{v}".encode()).hexdigest() for v in ("p2@x.org",)]
    assert out == [*expected, None, None, hashlib.sha256("s3cretZoë@x.org".encode()).hexdigest()]


def test_record_keys_are_the_first_32_hex_of_the_joined_values() -> None:
    df = pl.DataFrame({"a": ["1", None, ""], "b": [2, 3, None]})
    got = df.select(hash_key(["a", "b"])).to_series().to_list()
    joined = ["1\x1f2", "\x00\x1f3", "\x1f\x00"]
    assert got == [hashlib.sha256(j.encode()).hexdigest()[:32] for j in joined]
