"""The abuse limits' counters and the IP block match (services/guard.py)."""

from __future__ import annotations

import ipaddress

from pounce.services.guard import IpBlock, Windows, matches


def test_a_window_refuses_past_its_limit_then_opens_again() -> None:
    w = Windows()
    for _ in range(3):
        assert w.wait("k", 3, 60.0, 100.0) == 0
        w.hit("k", 60.0, 100.0)
    assert w.wait("k", 3, 60.0, 110.0) == 50.0
    assert w.wait("other", 3, 60.0, 110.0) == 0
    assert w.wait("k", 3, 60.0, 160.0) == 0  # a new window
    assert w.wait("k", 0, 60.0, 110.0) == 0  # 0: no limit


def test_windows_keep_at_most_their_cap() -> None:
    w = Windows(cap=100)
    for i in range(1000):
        w.hit(f"addr-{i}", 60.0, 1.0)
    assert len(w) == 100
    assert w.wait("addr-999", 1, 60.0, 2.0) > 0  # the newest are kept
    assert w.wait("addr-0", 1, 60.0, 2.0) == 0  # the oldest forgotten (forgiven)


def test_ip_blocks_match_addresses_ranges_and_run_out() -> None:
    blocks = (
        IpBlock(ipaddress.ip_network("203.0.113.0/24"), None),
        IpBlock(ipaddress.ip_network("2001:db8::/48"), 50.0),
    )
    assert matches(blocks, "203.0.113.9", 0)
    assert matches(blocks, "::ffff:203.0.113.9", 0)  # an IPv4 address in IPv6 form
    assert not matches(blocks, "203.0.114.1", 0)
    assert matches(blocks, "2001:db8::1", 49.0)
    assert not matches(blocks, "2001:db8::1", 50.0)
    assert not matches(blocks, "not an address", 0)
    assert not matches(blocks, None, 0)
