"""When group commit holds a commit back: only when waiting gathers enough more messages."""

from __future__ import annotations

from pounce.services.ingest import CommitPacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _steady(pacer: CommitPacer, clock: Clock, rate: float, seconds: float) -> list[float]:
    """One message per commit at `rate` for `seconds`; the waits asked for on the way."""
    waits = []
    for _ in range(int(rate * seconds)):
        clock.now += 1 / rate
        waits.append(pacer.wait(1))
        pacer.taken(1)
    return waits


def test_a_lone_message_commits_at_once() -> None:
    clock = Clock()
    pacer = CommitPacer(0.001, clock=clock)
    clock.now = 5.0
    assert pacer.wait(1) == 0.0


def test_below_the_rate_where_waiting_pays_nothing_waits() -> None:
    # 1,000 msg/s: a 1 ms wait would gather one more message, and two are needed
    clock = Clock()
    pacer = CommitPacer(0.001, clock=clock)
    assert set(_steady(pacer, clock, 1000, 1.0)) == {0.0}


def test_above_it_commits_wait() -> None:
    clock = Clock()
    pacer = CommitPacer(0.001, clock=clock)
    waits = _steady(pacer, clock, 5000, 1.0)
    assert waits[:200].count(0.001) == 0  # the first window is still being measured
    assert set(waits[-4000:]) == {0.001}


def test_a_full_batch_does_not_wait() -> None:
    clock = Clock()
    pacer = CommitPacer(0.001, clock=clock, enough=32)
    _steady(pacer, clock, 5000, 0.2)
    assert pacer.wait(31) == 0.001
    assert pacer.wait(32) == 0.0


def test_after_a_quiet_spell_the_next_message_does_not_wait() -> None:
    clock = Clock()
    pacer = CommitPacer(0.001, clock=clock)
    _steady(pacer, clock, 5000, 0.5)
    assert pacer.wait(1) == 0.001
    clock.now += 10.0
    assert pacer.wait(1) == 0.0


def test_a_zero_delay_never_waits() -> None:
    clock = Clock()
    pacer = CommitPacer(0.0, clock=clock)
    assert set(_steady(pacer, clock, 20000, 0.5)) == {0.0}
