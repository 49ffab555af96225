"""The concurrency gate: a release wakes as many waiting requests as it frees slots."""

from __future__ import annotations

import asyncio

from sluice.httpclient.gates import AdaptiveLimit


def test_a_release_wakes_only_the_waiters_it_has_slots_for() -> None:
    # 60 requests wait for one slot (a fan-out pull keeps up to max_concurrency pages of
    # details waiting). Waking them all on each release made 60 releases cost
    # 60 + 59 + ... wake-ups (1,830); one each is 60.
    async def main() -> tuple[int, list[int]]:
        limit = AdaptiveLimit(1, 1)
        await limit.acquire()
        wakes = 0
        waiting = limit._cond.wait

        async def counted() -> bool:
            nonlocal wakes
            woke = await waiting()
            wakes += 1
            return woke

        limit._cond.wait = counted  # type: ignore[method-assign]
        order: list[int] = []

        async def request(i: int) -> None:
            await limit.acquire()
            order.append(i)

        tasks = [asyncio.create_task(request(i)) for i in range(60)]
        await asyncio.sleep(0)  # every one is waiting now
        for _ in range(60):
            await limit.release(ok=True, overloaded=False, latency=0.01)
            while limit.in_flight < 1:  # the woken request takes the slot
                await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return wakes, order

    wakes, order = asyncio.run(main())
    assert order == list(range(60))  # first come, first served
    assert wakes == 60


def test_a_growing_limit_wakes_a_waiter_per_new_slot() -> None:
    # Slow start: each success raises the limit by one, freeing two slots on a release:
    # both waiters go, none is left waiting for a slot that is free.
    async def main() -> int:
        limit = AdaptiveLimit(1, 10)
        await limit.acquire()
        tasks = [asyncio.create_task(limit.acquire()) for _ in range(2)]
        await asyncio.sleep(0)
        await limit.release(ok=True, overloaded=False, latency=0.01)
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
        return limit.in_flight

    assert asyncio.run(main()) == 2
