"""A process is one node of the bus: its connection ids and node channel are its own."""

from __future__ import annotations

import multiprocessing

from pounce.realtime import connection
from pounce.realtime.redis import RedisBus


def _report_node(out: multiprocessing.connection.Connection) -> None:
    out.send((connection.NODE, RedisBus("redis://127.0.0.1:1/0").node))


def test_a_process_forked_after_import_is_a_node_of_its_own() -> None:
    # as a pre-forking supervisor (or the suite's fork server) would start servers
    ctx = multiprocessing.get_context("fork")
    nodes = set()
    for _ in range(2):
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_report_node, args=(send,))
        child.start()
        node, bus_node = receive.recv()
        child.join(10)
        assert child.exitcode == 0
        assert bus_node == node  # the bus's node channel is the process's own
        nodes.add(node)
    assert len(nodes) == 2 and connection.NODE not in nodes
