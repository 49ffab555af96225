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


def test_every_pool_is_closed_when_one_raises_as_it_closes() -> None:
    # The first pool's error stopped the loop: the others kept their connections open.
    import asyncio

    from sluice.httpclient.pools import Pools

    pools = Pools(24)
    assert len(pools.clients) == 3
    first = pools.clients[0]

    async def broken() -> None:
        raise RuntimeError("transport gone")

    first.aclose = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="transport gone"):
        asyncio.run(pools.aclose())
    assert [c.is_closed for c in pools.clients[1:]] == [True, True]
