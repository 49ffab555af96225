"""How a client's connections are split into httpx pools."""

from __future__ import annotations

import pytest

from sluice.httpclient.pools import POOL_CONNECTIONS, sizes


@pytest.mark.parametrize(
    ("connections", "expected"),
    [(1, [1]), (4, [4]), (8, [8]), (9, [5, 4]), (20, [7, 7, 6]), (32, [8, 8, 8, 8]), (64, [8] * 8)],
)
def test_connections_split_into_even_pools_of_at_most_eight(
    connections: int, expected: list[int]
) -> None:
    assert sizes(connections) == expected
    assert sum(expected) == connections
    assert max(expected) <= POOL_CONNECTIONS
