"""The login throttle: free failures, then delays that double up to a ceiling, forgotten
after a quiet spell, and a bounded number of keys."""

from __future__ import annotations

from pounce.services.auth import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delays_grow_after_the_free_failures_up_to_the_ceiling() -> None:
    clock = Clock()
    throttle = Throttle(free=3, base=1.0, ceiling=30.0, forget=3600.0, clock=clock)
    waits = []
    for _ in range(10):
        assert throttle.wait("k") == 0.0  # each try waits out the delay first
        throttle.failed("k")
        waits.append(throttle.wait("k"))
        clock.now += waits[-1]
    assert waits == [0, 0, 1, 2, 4, 8, 16, 30, 30, 30]


def test_a_success_or_a_quiet_spell_starts_afresh() -> None:
    clock = Clock()
    throttle = Throttle(free=1, base=2.0, ceiling=60.0, forget=100.0, clock=clock)
    throttle.failed("a")
    throttle.failed("b")
    assert throttle.wait("a") == 2.0 and throttle.wait("b") == 2.0
    throttle.succeeded("a")
    assert throttle.wait("a") == 0.0
    clock.now += 100.0
    assert throttle.wait("b") == 0.0
    throttle.failed("b")  # counted from one again
    assert throttle.wait("b") == 2.0


def test_keys_are_bounded_dropping_the_least_recently_failed() -> None:
    clock = Clock()
    throttle = Throttle(free=0, base=5.0, max_keys=3, clock=clock)
    for key in ["a", "b", "c"]:
        throttle.failed(key)
    throttle.failed("a")  # now the most recent
    throttle.failed("d")  # evicts "b"
    assert len(throttle) == 3
    assert throttle.wait("b") == 0.0
    assert throttle.wait("a") > 0 and throttle.wait("c") > 0 and throttle.wait("d") > 0


def test_keys_are_per_account_and_address() -> None:
    throttle = Throttle(free=0, clock=Clock())
    throttle.failed(("owner@example.test", "127.0.0.2"))
    assert throttle.wait(("owner@example.test", "127.0.0.2")) > 0
    assert throttle.wait(("owner@example.test", "127.0.0.3")) == 0.0
