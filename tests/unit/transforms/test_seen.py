"""SeenKeys: the hashes dedupe keeps, checked against a Python set."""

from __future__ import annotations

import polars as pl
import pytest

from sluice.transforms.seen import SeenKeys


@pytest.mark.parametrize("run_hashes", [SeenKeys.RUN_HASHES, 2_000])
def test_seen_keys_agree_with_a_set_while_the_bitmap_grows(run_hashes: int) -> None:
    # 60 batches of keys drawn with repeats, within and across batches: the bitmap
    # starts at 2**16 bits and is refilled from the runs as it grows; with small runs
    # the hashes are spread over many runs, each searched.
    import random

    rng = random.Random(5)
    seen = SeenKeys()
    seen.RUN_HASHES = run_hashes
    reference: set[str] = set()
    for _ in range(60):
        keys = [str(rng.randrange(40_000)) for _ in range(1_500)]
        fresh = seen.first_time(pl.DataFrame({"k": keys}), ["k"]).to_list()
        expected = []
        for k in keys:
            expected.append(k not in reference)
            reference.add(k)
        assert fresh == expected
    assert seen._bits > 16
    assert seen.count == sum(len(r) for r in seen.runs) == len(reference)
    assert all(bool((r[1:] > r[:-1]).all()) for r in seen.runs)  # sorted, no repeats
    if run_hashes < SeenKeys.RUN_HASHES:
        # runs stop growing at the limit (or an eighth of the keys seen)
        assert len(seen.runs) > 3
        assert max(len(r) for r in seen.runs) <= max(run_hashes, len(reference) // 8)


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
    seen = SeenKeys()
    data = pl.DataFrame({"a": ["1", "1", None, None, "1"], "b": ["x", "y", "x", "x", None]})
    assert seen.first_time(data, ["a", "b"]).to_list() == [True, True, True, False, True]
    assert not seen.first_time(data, ["a", "b"]).any()
