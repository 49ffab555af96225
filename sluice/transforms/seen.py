"""The keys ``dedupe`` has seen in a stream, as 64-bit hashes, in little more memory
than the hashes themselves.

The hashes are kept in sorted runs: a batch is checked by binary search in each run,
and its new hashes become a run of their own, merged with the last run while the two
are of a size and small enough (one linear merge). Rebuilding a hash set of every key
seen so far on each batch made dedupe quadratic in the number of batches; merging
everything into one sorted array made each batch copy all the hashes seen so far, so
the last batches of a 1M-row file held two copies (16 MB) at once. Runs stop growing
at about an eighth of the hashes (and 2**18 of them), so a merge copies at most that
much and a batch is searched in about a dozen runs.

A bitmap indexed by the hashes' top bits answers "never seen" for most new keys
without any search (cache misses over large runs were 0.2 of the 0.5 s that 1M keys
cost): only keys whose bit is set are searched. It is packed 8 bits to a byte, about
8 bits per key: 1 MiB for 1M keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    import numpy.typing as npt


class SeenKeys:
    """Hashes of key values seen so far in a stream: bounded by the number of keys."""

    #: the bitmap has about this many bits per key seen (one new key in eight searched)
    BITS_PER_KEY = 8
    #: its largest size, as bits of the hash: 2**26 bits, 8 MiB (8M keys)
    MAX_BITS = 26
    #: a run stops growing past this many hashes, or the hashes seen / RUNS if more
    RUN_HASHES = 1 << 18
    RUNS = 8

    def __init__(self) -> None:
        # NumPy is imported at the first batch: `sluice validate` compiles the steps
        # (making one of these) but never dedupes, and NumPy is 0.1-0.2 s of start-up.
        self.runs: list[npt.NDArray[Any]] = []
        self.count = 0
        self._bitmap: npt.NDArray[Any] | None = None
        self._bits = 0

    def first_time(self, data: pl.DataFrame, keys: list[str]) -> pl.Series:
        """A mask: True where the row's key was not seen before (in earlier batches or rows)."""
        key = pl.col(keys[0]) if len(keys) == 1 else pl.struct(keys)
        h = data.select(key.hash(seed=7).alias("h")).to_series()
        if not h.len():  # the steps' check on an empty frame (`sluice validate`)
            return pl.Series("fresh", [], dtype=pl.Boolean)
        import numpy as np

        bitmap = self._sized(self.count + h.len())
        first = h.is_first_distinct().to_numpy()
        values = h.to_numpy()
        byte, bit = _cells(values, self._bits)
        known = np.zeros(len(values), dtype=bool)
        maybe = np.flatnonzero((bitmap[byte] >> bit) & np.uint8(1))
        if len(maybe):
            known[maybe] = self._known(values[maybe])
        fresh = first & ~known
        _mark(bitmap, values[fresh], self._bits)
        self._add(np.sort(values[fresh]))
        return pl.Series("fresh", fresh)

    def _known(self, probes: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Which of ``probes`` some run holds."""
        import numpy as np

        hit = np.zeros(len(probes), dtype=bool)
        for run in self.runs:
            pos = np.searchsorted(run, probes)
            inside = pos < len(run)
            hit[inside] |= run[pos[inside]] == probes[inside]
        return hit

    def _add(self, run: npt.NDArray[Any]) -> None:
        """Keep the sorted hashes ``run``: merged into the last run while they are of a
        size and the merge stays under the runs' size limit."""
        import numpy as np

        if not len(run):
            return
        self.count += len(run)
        limit = max(self.RUN_HASHES, self.count // self.RUNS)
        runs = self.runs
        while runs and len(runs[-1]) <= 2 * len(run) and len(runs[-1]) + len(run) <= limit:
            # Two sorted runs: a stable sort (timsort) merges them in one linear pass.
            run = np.concatenate([runs.pop(), run])
            run.sort(kind="stable")
        runs.append(run)

    def _sized(self, keys: int) -> npt.NDArray[Any]:
        """The bitmap, grown (and refilled from the runs) to fit ``keys`` keys."""
        import numpy as np

        bits = min(self.MAX_BITS, max(16, (keys * self.BITS_PER_KEY - 1).bit_length()))
        if self._bitmap is None or bits > self._bits:
            self._bits = bits
            self._bitmap = np.zeros(1 << (bits - 3), dtype=np.uint8)
            for run in self.runs:
                _mark(self._bitmap, run, bits)
        return self._bitmap


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
