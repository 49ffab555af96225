"""The keys ``dedupe`` (and ``unique``) has seen in a stream, as 96-bit hashes, in
little more memory than the hashes themselves.

A key is a 64-bit hash and 32 bits of a second one under an unrelated seed, and it is
"seen" only when both match a key seen before: with one hash, two distinct keys sharing
it (about n**2 / 2**65 for n keys: 2.7e-8 at 1M, 2.7e-4 at 100M) made the second one a
duplicate, dropped by ``dedupe`` or set aside as "duplicate value" by ``unique``, which
no check would catch. With both, n**2 / 2**97: 6e-14 at 100M keys, 6e-12 at a billion.
The same holds within a batch.

The hashes are kept in sorted runs, ordered by the first hash with the second beside it:
a batch is checked by binary search in each run, and its new hashes become a run of
their own, merged with the last run while the two are of a size and small enough (one
linear merge). Rebuilding a hash set of every key seen so far on each batch made dedupe
quadratic in the number of batches; merging everything into one sorted array made each
batch copy all the hashes seen so far. Runs stop growing at about an eighth of the keys
(and 2**18 of them), so a merge copies at most that much and a batch is searched in
about a dozen runs.

A bitmap indexed by the first hash's top bits answers "never seen" for most new keys
without any search (cache misses over large runs were 0.2 of the 0.5 s that 1M keys
cost): only keys whose bit is set are searched. It is packed 8 bits to a byte, about
8 bits per key: 1 MiB for 1M keys.

The second hash costs 4 bytes a key and no time that 5 alternating pairs of the bench's
1M-row load could tell from noise. The kept hashes are what grows through a load, all
of them held to its end, where its memory peaks: 12 MB at 1M keys (16 MB with the whole
second hash).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    import numpy.typing as npt

#: The two hashes' seeds. Polars keys its hash with the seed, so the two are unrelated
#: functions of a key (neither their XOR nor their difference is the same for any two
#: keys tried, text or integers), and two keys sharing one are no likelier to share both.
SEEDS = (7, 0x2545F4914F6CDD1D)


class SeenKeys:
    """Hashes of key values seen so far in a stream: bounded by the number of keys."""

    #: the bitmap has about this many bits per key seen (one new key in eight searched)
    BITS_PER_KEY = 8
    #: its largest size, as bits of the hash: 2**26 bits, 8 MiB (8M keys)
    MAX_BITS = 26
    #: a run stops growing past this many keys, or the keys seen / RUNS if more
    RUN_HASHES = 1 << 18
    RUNS = 8

    def __init__(self) -> None:
        # NumPy is imported at the first batch: `sluice validate` compiles the steps
        # (making one of these) but never dedupes, and NumPy is 0.1-0.2 s of start-up.
        #: (first hashes, sorted; the second hash of each) per run
        self.runs: list[tuple[npt.NDArray[Any], npt.NDArray[Any]]] = []
        self.count = 0
        self._bitmap: npt.NDArray[Any] | None = None
        self._bits = 0

    def first_time(self, data: pl.DataFrame, keys: list[str]) -> pl.Series:
        """A mask: True where the row's key was not seen before (in earlier batches or
        rows). A row with an empty key part has no key, as SQL's UNIQUE has it: it is
        always kept (the rows of a key column left empty were kept one and dropped the
        rest, as duplicates of each other), and what validates keys says why it fails."""
        if not data.height:  # the steps' check on an empty frame (`sluice validate`)
            return pl.Series("fresh", [], dtype=pl.Boolean)
        import numpy as np

        key = pl.col(keys[0]) if len(keys) == 1 else pl.struct(keys)
        a, b = self._hashes(data, key)
        first = _first(a, b)
        keyless = None
        if any(data.get_column(k).null_count() for k in keys):
            keyless = data.select(pl.any_horizontal(pl.col(keys).is_null())).to_series().to_numpy()
            first = first & ~keyless
        bitmap = self._sized(self.count + len(a))
        byte, bit = _cells(a, self._bits)
        known = np.zeros(len(a), dtype=bool)
        maybe = np.flatnonzero(first & ((bitmap[byte] >> bit) & np.uint8(1)).astype(bool))
        if len(maybe):
            known[maybe] = self._known(a[maybe], b[maybe])
        fresh = first & ~known
        _mark(bitmap, a[fresh], self._bits)
        self._add(a[fresh], b[fresh])
        return pl.Series("fresh", fresh if keyless is None else fresh | keyless)

    def _hashes(
        self, data: pl.DataFrame, key: pl.Expr
    ) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """Each row's key as its two hashes."""
        import numpy as np

        got = data.select(key.hash(SEEDS[0]).alias("a"), key.hash(SEEDS[1]).alias("b"))
        # the second hash's low 32 bits (a cast to a narrower integer keeps those)
        b = got.get_column("b").to_numpy().astype(np.uint32)
        return got.get_column("a").to_numpy(), b

    def _known(self, a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Which of the keys hashed ``a``, ``b`` some run holds."""
        import numpy as np

        # Searched in order: each search starts where the one before ended, in memory
        # it just read (2,300 hashes in a run of 250,000: 0.04 ms sorted, 0.23 ms not).
        order = np.argsort(a)
        a, b = a[order], b[order]
        hit = np.zeros(len(a), dtype=bool)
        for run_a, run_b in self.runs:
            at = np.searchsorted(run_a, a)
            inside = np.flatnonzero(at < len(run_a))
            same = inside[run_a[at[inside]] == a[inside]]  # the first hash is in the run
            found = run_b[at[same]] == b[same]
            hit[same[found]] = True
            # A first hash met with another second one: distinct keys sharing it, each
            # told apart by its second hash (so rare that a loop costs nothing).
            for i in same[~found].tolist():
                j = int(at[i]) + 1
                while j < len(run_a) and run_a[j] == a[i] and not hit[i]:
                    hit[i] = run_b[j] == b[i]
                    j += 1
        known = np.empty_like(hit)
        known[order] = hit
        return known

    def _add(self, a: npt.NDArray[Any], b: npt.NDArray[Any]) -> None:
        """Keep the keys hashed ``a``, ``b``, as a run merged into the last one while the
        two are of a size and the merge stays under the runs' size limit."""
        import numpy as np

        if not len(a):
            return
        # Equal first hashes may sit in any order: a search looks at each of them. Not
        # stable, NumPy's sort of 19,000 hashes takes 0.17 ms where timsort took 0.96.
        order = np.argsort(a)
        a, b = a[order], b[order]
        self.count += len(a)
        limit = max(self.RUN_HASHES, self.count // self.RUNS)
        runs = self.runs
        while runs and len(runs[-1][0]) <= 2 * len(a) and len(runs[-1][0]) + len(a) <= limit:
            last_a, last_b = runs.pop()
            a, b = np.concatenate([last_a, a]), np.concatenate([last_b, b])
            # Two sorted runs: a stable sort (timsort) orders them in one linear pass.
            order = np.argsort(a, kind="stable")
            a, b = a[order], b[order]
        runs.append((a, b))

    def _sized(self, keys: int) -> npt.NDArray[Any]:
        """The bitmap, grown (and refilled from the runs) to fit ``keys`` keys."""
        import numpy as np

        bits = min(self.MAX_BITS, max(16, (keys * self.BITS_PER_KEY - 1).bit_length()))
        if self._bitmap is None or bits > self._bits:
            self._bits = bits
            self._bitmap = np.zeros(1 << (bits - 3), dtype=np.uint8)
            for run_a, _ in self.runs:
                _mark(self._bitmap, run_a, bits)
        return self._bitmap


def _first(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Which keys (hashed ``a``, ``b``) are the first of their kind in the batch. Where
    every first hash differs, so do the keys; else both hashes are compared. (Polars
    comparing the key values instead made the bench's 1M-row load 0.4 s slower, the
    median of 5 alternating pairs.)"""
    first = pl.Series(a).is_first_distinct()
    if first.all():
        return first.to_numpy()
    pairs = pl.DataFrame({"a": a, "b": b})
    return pairs.select(pl.struct("a", "b").is_first_distinct()).to_series().to_numpy()


def _cells(values: npt.NDArray[Any], bits: int) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Each hash's bitmap cell by its top ``bits`` bits: (its byte, its bit in it)."""
    import numpy as np

    cell = values >> np.uint64(64 - bits)
    return (cell >> np.uint64(3)).astype(np.intp), (cell & np.uint64(7)).astype(np.uint8)


def _mark(bitmap: npt.NDArray[Any], values: npt.NDArray[Any], bits: int) -> None:
    """Set the cells of ``values`` in ``bitmap``."""
    import numpy as np

    byte, bit = _cells(values, bits)
    # `|=` through an index drops all but one update of a byte met twice: `at` does not.
    np.bitwise_or.at(bitmap, byte, np.left_shift(np.uint8(1), bit))
