"""The SQLite write lock: first come first served, and takeable without awaiting when free."""

from __future__ import annotations

import asyncio

from pounce.store.appender import WriteLock


async def test_try_acquire_takes_a_free_lock_only() -> None:
    lock = WriteLock()
    assert lock.try_acquire() and lock.locked()
    assert not lock.try_acquire()
    lock.release()
    assert not lock.locked()
    async with lock:
        assert lock.locked() and not lock.try_acquire()
    assert not lock.locked()


async def test_waiters_get_it_in_order_and_a_free_lock_is_not_taken_past_them() -> None:
    lock = WriteLock()
    order: list[int] = []
    lock.try_acquire()

    async def wait(n: int) -> None:
        async with lock:
            order.append(n)
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(wait(n)) for n in range(3)]
    await asyncio.sleep(0)
    lock.release()  # handed to the first waiter, not freed
    assert lock.locked() and not lock.try_acquire()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    assert not lock.locked() and lock.try_acquire()


async def test_a_cancelled_waiter_passes_the_lock_on() -> None:
    lock = WriteLock()
    lock.try_acquire()
    got: list[str] = []

    async def wait(name: str) -> None:
        async with lock:
            got.append(name)

    first = asyncio.create_task(wait("first"))
    second = asyncio.create_task(wait("second"))
    third = asyncio.create_task(wait("third"))
    await asyncio.sleep(0)
    second.cancel()  # while waiting
    await asyncio.sleep(0)
    lock.release()  # handed to "first", which is cancelled before it runs
    first.cancel()
    # without the hand-over on cancellation, "third" would wait for ever
    await asyncio.wait_for(asyncio.gather(first, second, third, return_exceptions=True), 5)
    assert first.cancelled() and second.cancelled()
    assert got == ["third"]
    assert not lock.locked()
