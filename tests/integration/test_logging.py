"""`POUNCE_JSON_LOGS`: a real `pounce serve` (and the CLI) log one JSON object per line."""

from __future__ import annotations

import json
import re
import signal
from typing import Any

import httpx

from tests.support import spawn
from tests.support.stack import ROOT, Stack

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")


def _served_log(stack: Stack) -> list[str]:
    """Start a server, make it log an access line for a 200 and a 404, stop it cleanly
    (so its shutdown lines are written too) and return every line it wrote."""
    url = stack.start()
    port = int(url.rsplit(":", 1)[1])
    assert httpx.get(url + "/healthz").status_code == 200
    assert httpx.get(url + "/no-such-page").status_code == 404
    stack.kill(port, signal.SIGTERM)
    return (stack.var_dir / f"server-{port}.log").read_text().splitlines()


def test_json_logs_are_one_object_per_line_uvicorn_included(fresh_stack: Any) -> None:
    stack = fresh_stack(POUNCE_JSON_LOGS="true")
    lines = _served_log(stack)
    entries = [json.loads(line) for line in lines]  # every line, or this raises
    assert entries and all(isinstance(e, dict) for e in entries)
    for e in entries:
        assert {"ts", "level", "logger", "msg", "pid"} <= e.keys(), e
        assert "color_message" not in e
    loggers = {e["logger"] for e in entries}
    assert {"uvicorn.error", "uvicorn.access"} <= loggers
    access = [e["msg"] for e in entries if e["logger"] == "uvicorn.access"]
    assert any('"GET /healthz HTTP/1.1" 200' in m for m in access), access
    assert any('"GET /no-such-page HTTP/1.1" 404' in m for m in access), access
    assert any("Shutting down" in e["msg"] or "shutdown" in e["msg"] for e in entries)

    # The CLI logs the same way (its printed results stay plain on stdout).
    out = spawn.run("pounce.cli", ["migrate"], env=stack.env(), cwd=ROOT, timeout=120, check=True)
    assert out.stdout.strip() == "pounce: database is up to date"
    cli_lines = out.stderr.splitlines()
    assert cli_lines and all(json.loads(line)["logger"] for line in cli_lines)


def test_without_the_setting_logs_are_plain_text(fresh_stack: Any) -> None:
    lines = _served_log(fresh_stack())
    assert lines and all(TEXT_LINE.match(line) for line in lines), lines
    assert any("uvicorn.access" in line and "GET /healthz" in line for line in lines)
