"""SeenKeys: the hashes dedupe keeps, checked against a Python set."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

from sluice.transforms.seen import SeenKeys


def agrees_with_a_set(seen: SeenKeys, *, seed: int, batches: int, size: int, keys: int) -> set[str]:
    """Batches of keys drawn with repeats, within and across batches, each checked
    against a Python set of the keys before it; the keys seen."""
    import random

    rng = random.Random(seed)
    reference: set[str] = set()
    for _ in range(batches):
        batch = [f"k{rng.randrange(keys)}" for _ in range(size)]
        fresh = seen.first_time(pl.DataFrame({"k": batch}), ["k"]).to_list()
        expected = []
        for k in batch:
            expected.append(k not in reference)
            reference.add(k)
        assert fresh == expected
    return reference


@pytest.mark.parametrize("run_hashes", [SeenKeys.RUN_HASHES, 2_000])
def test_seen_keys_agree_with_a_set_while_the_bitmap_grows(run_hashes: int) -> None:
    # 60 batches of keys drawn with repeats, within and across batches: the bitmap
    # starts at 2**16 bits and is refilled from the runs as it grows; with small runs
    # the hashes are spread over many runs, each searched.
    seen = SeenKeys()
    seen.RUN_HASHES = run_hashes
    reference = agrees_with_a_set(seen, seed=5, batches=60, size=1_500, keys=40_000)
    assert seen._bits > 16
    assert seen.count == sum(len(a) for a, _ in seen.runs) == len(reference)
    assert all(bool((a[1:] > a[:-1]).all()) for a, _ in seen.runs)  # sorted, no repeats
    assert all(len(a) == len(b) for a, b in seen.runs)
    if run_hashes < SeenKeys.RUN_HASHES:
        # runs stop growing at the limit (or an eighth of the keys seen)
        assert len(seen.runs) > 3
        assert max(len(a) for a, _ in seen.runs) <= max(run_hashes, len(reference) // 8)


def test_a_hash_seen_in_the_same_batch_and_a_byte_met_twice() -> None:
    # Two keys whose bits share a byte of the bitmap, set in one batch: both bits stay
    # set (an indexed `|=` would keep only one), so both repeats are found next batch.
    seen = SeenKeys()
    keys = [str(i) for i in range(5_000)]
    assert seen.first_time(pl.DataFrame({"k": keys + keys[:10]}), ["k"]).sum() == 5_000
    again = seen.first_time(pl.DataFrame({"k": keys}), ["k"])
    assert not again.any()
    assert seen.first_time(pl.DataFrame({"k": ["new"]}), ["k"]).to_list() == [True]


def test_several_key_columns_and_nulls() -> None:
    # A row with an empty key part has no key (as SQL's UNIQUE has it): it is always
    # kept. Two leads without a license number are two leads; one was dropped as a
    # duplicate of the other.
    seen = SeenKeys()
    data = pl.DataFrame({"a": ["1", "1", None, None, "1"], "b": ["x", "y", "x", "x", None]})
    assert seen.first_time(data, ["a", "b"]).to_list() == [True, True, True, True, True]
    again = seen.first_time(data, ["a", "b"]).to_list()
    assert again == [False, False, True, True, True]


class _SharedFirstHash(SeenKeys):
    """Every key's first hash is one of 4,096: distinct keys share it by the thousand,
    as two keys would by chance once in 2**64."""

    def _hashes(self, data: pl.DataFrame, key: pl.Expr) -> tuple[Any, Any]:
        a, b = super()._hashes(data, key)
        return a % np.uint64(4096), b


@pytest.mark.parametrize("run_hashes", [SeenKeys.RUN_HASHES, 500])
def test_keys_sharing_a_hash_are_told_apart(run_hashes: int) -> None:
    # With one 64-bit hash, a new key sharing an earlier key's hash was a duplicate:
    # dropped by dedupe, quarantined by `unique`. The second hash tells them apart.
    seen = _SharedFirstHash()
    seen.RUN_HASHES = run_hashes
    reference = agrees_with_a_set(seen, seed=11, batches=12, size=1_000, keys=6_000)
    assert seen.count == len(reference)


class _Hashed(SeenKeys):
    """Keys hashed as the test says: ``{key: (first hash, second hash)}``."""

    def __init__(self, hashes: dict[str, tuple[int, int]]) -> None:
        super().__init__()
        self.hashes = hashes

    def _hashes(self, data: pl.DataFrame, key: pl.Expr) -> tuple[Any, Any]:
        keys = data.select(key).to_series().to_list()
        pairs = np.array([self.hashes[k] for k in keys], dtype=np.uint64).reshape(-1, 2)
        return pairs[:, 0].copy(), pairs[:, 1].copy()


def test_the_second_hash_is_kept_in_32_bits() -> None:
    # 12 bytes a key, not 16: what grows through a load and is held at its end
    seen = SeenKeys()
    seen.first_time(pl.DataFrame({"k": [str(i) for i in range(10_000)]}), ["k"])
    assert sum(a.nbytes + b.nbytes for a, b in seen.runs) == 12 * 10_000


def test_a_key_sharing_one_hash_with_one_seen_key_is_new() -> None:
    # The run holds "x" alone under its first hash: "y", hashed the same, is found
    # there once and told apart by the second hash.
    seen = _Hashed({"x": (5, 1), "y": (5, 2), "z": (9, 3)})
    assert seen.first_time(pl.DataFrame({"k": ["x", "z"]}), ["k"]).to_list() == [True, True]
    assert seen.first_time(pl.DataFrame({"k": ["y", "x"]}), ["k"]).to_list() == [True, False]
    assert seen.first_time(pl.DataFrame({"k": ["y", "z"]}), ["k"]).to_list() == [False, False]


def test_a_key_sharing_both_hashes_is_the_one_limit() -> None:
    # The check's reach, stated: keys are told apart by their two hashes, not by value
    # (96 bits: two distinct keys among a billion share both about once in 10**11
    # runs), within a batch as across batches.
    seen = _Hashed({"a": (0, 0), "b": (0, 0), "c": (0, 0), "d": (0, 1)})
    assert seen.first_time(pl.DataFrame({"k": ["a", "b", "d"]}), ["k"]).to_list() == [
        True,
        False,
        True,
    ]
    assert seen.first_time(pl.DataFrame({"k": ["c"]}), ["k"]).to_list() == [False]
