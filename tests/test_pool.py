"""The pool a manager's plugins share their builds through: never more holders than its size, a freed place to
the waiter of smallest priority (saves before initial builds, the latest save first, then the order plugins were
added), and a waiter that is cancelled takes no place, even one it was just given."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from orchestrator.devloop.pool import Priority, PriorityPool, Slots, added_priority, pool_size, saved_priority

T = TypeVar("T")


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """The scenario's outcome; a pool that lets a holder wait forever fails it instead of hanging."""
    return asyncio.run(asyncio.wait_for(scenario, 5))


async def _settle() -> None:
    """Let every task that can run, run (a few loop turns: none of these tasks sleeps)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def _granted_order(pool: PriorityPool, priorities: dict[str, Priority]) -> list[str]:
    """Queue one holder per name behind a first holder, then free the pool: the order they got in."""
    order: list[str] = []
    first_in = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with pool.slot(saved_priority(0.0)):
            first_in.set()
            await release_first.wait()

    async def holder(name: str, priority: Priority) -> None:
        async with pool.slot(priority):
            order.append(name)
            await asyncio.sleep(0)

    blocker = asyncio.create_task(first())
    await first_in.wait()
    holders = [asyncio.create_task(holder(name, priority)) for name, priority in priorities.items()]
    await _settle()
    assert order == [] and pool.waiting == len(priorities)  # all queued behind the first
    release_first.set()
    await asyncio.gather(blocker, *holders)
    return order


def test_a_freed_place_goes_to_the_latest_save_then_to_initial_builds_in_added_order() -> None:
    priorities = {"added 3": added_priority(3), "saved at 5": saved_priority(5.0), "added 1": added_priority(1),
                  "saved at 9": saved_priority(9.0), "added 2": added_priority(2)}

    order = run(_granted_order(PriorityPool(1), priorities))

    assert order == ["saved at 9", "saved at 5", "added 1", "added 2", "added 3"]


def test_equal_priorities_go_in_the_order_they_came() -> None:
    priorities = {name: added_priority(1) for name in ("a", "b", "c", "d")}

    assert run(_granted_order(PriorityPool(1), priorities)) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_never_more_holders_than_its_size(size: int) -> None:
    async def scenario() -> tuple[int, int]:
        pool = PriorityPool(size)
        running = peak = 0
        done = asyncio.Event()

        async def holder(order: int) -> None:
            nonlocal running, peak
            async with pool.slot(added_priority(order)):
                running += 1
                peak = max(peak, running)
                await done.wait()  # the first ones hold on until all others queued
                running -= 1

        tasks = [asyncio.create_task(holder(order)) for order in range(8)]
        await _settle()
        held_while_blocked = pool.running
        done.set()
        await asyncio.gather(*tasks)
        assert pool.running == 0 and pool.waiting == 0
        return peak, held_while_blocked

    peak, held = run(scenario())
    assert peak == size
    assert held == size


def test_an_unbounded_pool_never_makes_anyone_wait() -> None:
    async def scenario() -> int:
        pool = PriorityPool(None)
        inside = 0
        release = asyncio.Event()

        async def holder() -> None:
            nonlocal inside
            async with pool.slot(added_priority(0)):
                inside += 1
                await release.wait()

        tasks = [asyncio.create_task(holder()) for _ in range(50)]
        await _settle()
        seen = inside
        release.set()
        await asyncio.gather(*tasks)
        return seen

    assert run(scenario()) == 50


def test_a_cancelled_waiter_leaves_the_queue_and_the_next_one_gets_in() -> None:
    async def scenario() -> list[str]:
        pool = PriorityPool(1)
        order: list[str] = []
        release = asyncio.Event()

        async def holder(name: str, priority: Priority) -> None:
            async with pool.slot(priority):
                order.append(name)
                if name == "first":
                    await release.wait()

        first = asyncio.create_task(holder("first", added_priority(0)))
        await _settle()
        cancelled = asyncio.create_task(holder("cancelled", saved_priority(1.0)))
        later = asyncio.create_task(holder("later", added_priority(5)))
        await _settle()
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        assert pool.waiting == 1
        release.set()
        await asyncio.gather(first, later)
        assert pool.running == 0
        return order

    assert run(scenario()) == ["first", "later"]


def test_a_waiter_cancelled_just_as_it_got_its_place_passes_it_on() -> None:
    async def scenario() -> list[str]:
        pool = PriorityPool(1)
        order: list[str] = []

        async def holder(name: str, priority: Priority) -> None:
            async with pool.slot(priority):
                order.append(name)

        first = pool.slot(added_priority(0))
        await first.__aenter__()
        granted = asyncio.create_task(holder("granted", added_priority(1)))
        after = asyncio.create_task(holder("after", added_priority(2)))
        await _settle()
        await first.__aexit__(None, None, None)  # gives its place to `granted`, without a turn of the loop
        granted.cancel()  # so it is cancelled before it could use it
        await asyncio.gather(granted, return_exceptions=True)
        await after
        assert (pool.running, pool.waiting) == (0, 0)
        return order

    assert run(scenario()) == ["after"]


def test_slots_rank_a_plugin_by_when_it_was_saved_or_added() -> None:
    async def scenario() -> list[str]:
        builds = PriorityPool(1)
        slots = {name: Slots(builds, PriorityPool(1), order) for order, name in enumerate(["p0", "p1", "p2"])}
        order: list[str] = []
        release = asyncio.Event()

        async def build(name: str, *, saved: bool) -> None:
            async with slots[name].build(saved=saved):
                order.append(f"{name} {'saved' if saved else 'initial'}")
                if not order[1:]:
                    await release.wait()

        tasks = [asyncio.create_task(build("p0", saved=False))]
        await _settle()
        for name, saved in (("p2", False), ("p1", False), ("p1", True), ("p2", True)):
            tasks.append(asyncio.create_task(build(name, saved=saved)))
            await _settle()
            await asyncio.sleep(0.002)  # a later save has a later time
        release.set()
        await asyncio.gather(*tasks)
        return order

    assert run(scenario()) == ["p0 initial", "p2 saved", "p1 saved", "p1 initial", "p2 initial"]


def test_ui_installs_go_in_the_order_the_plugins_were_added() -> None:
    async def scenario() -> list[int]:
        installs = PriorityPool(1)
        order: list[int] = []
        release = asyncio.Event()

        async def install(added: int) -> None:
            async with Slots(PriorityPool(1), installs, added).install():
                order.append(added)
                if added == 0:
                    await release.wait()

        tasks = [asyncio.create_task(install(added)) for added in (0, 3, 1, 2)]
        await _settle()
        release.set()
        await asyncio.gather(*tasks)
        return order

    assert run(scenario()) == [0, 1, 2, 3]


def test_the_default_size_is_one_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert (pool_size(None), pool_size(3)) == (6, 3)
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert pool_size(None) == 1
