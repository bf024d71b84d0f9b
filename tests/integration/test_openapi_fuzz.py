"""Schemathesis walks every operation of the published OpenAPI document against a real
server, once as an admin and once as a rep (with the CSRF header): no answer may be a 5xx
or differ from the document (status, media type, body schema, `Allow` on 405), and input
the document forbids must be refused. A server and database of its own, so the rows it
makes disturb no other test; bounded (fixed seed, few examples per operation)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import clients
from tests.support.seed import Org, seed_org
from tests.support.stack import ROOT, Stack, drop_stack, make_stack, run_async

EXAMPLES_PER_OPERATION = 6
SEED = 20261206


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = make_stack("embedded", Path(tmp_path_factory.mktemp("fuzz")))
    stack.url = stack.start()  # type: ignore[attr-defined]
    try:
        yield stack
    finally:
        drop_stack(stack)


async def _org_with_a_conversation(stack: Stack, url: str) -> tuple[Org, str, str]:
    """A fresh org whose visitor has opened a conversation: (org, visitor, conversation)."""
    org = await seed_org(stack.database_url, origins=[url])
    visitor, welcome = await clients.visitor(url, org.site_key)
    ack = await visitor.request({"type": "message", "body": "How much is the Pro plan?"})
    await visitor.close()
    return org, welcome["visitor_id"], ack["conversation_id"]


# Answers that only rows elsewhere decide (no schema can say an id exists): these
# operations may refuse input the document allows with 422, and only with 422.
SEMANTIC_422 = {
    "create_routing_rule": "an unknown team or rep id",
    "patch_routing_rule": "an unknown team or rep id",
    "create_team": "an unknown member id",
    "auto_pounce_report": "`from` after `to`",
    "copilot_suggest": "no question typed and none asked by the visitor yet",
    "copilot_suggest_stream": "no question typed and none asked by the visitor yet",
    "create_page": "a file that is not UTF-8 text or not .md/.markdown/.txt",
    "add_ip_block": "not an address or range, a range too wide, or a report with no address",
}
# A set-password link's token is checked by its signature, which no schema can say: a
# well-formed token that is not a real link is refused with 400 (`link_invalid`).
SEMANTIC_400 = {
    "check_link": "a token that is not a link this server signed",
    "set_password": "a token that is not a link this server signed",
}
POSITIVE_STATUSES = ["2xx", "401", "403", "404", "409", "429"]


@pytest.mark.parametrize("role", ["admin", "rep"])
def test_the_api_keeps_its_document(fuzz_stack: Stack, role: str, tmp_path: Path) -> None:
    url: str = fuzz_stack.url  # type: ignore[attr-defined]
    org, visitor_id, conversation_id = run_async(_org_with_a_conversation, fuzz_stack, url)
    person = org.admin if role == "admin" else org.reps[0]
    cookie, csrf = run_async(clients.login, url, person.email, org.password)
    semantic = "".join(
        f"""
[[operations]]
include-operation-id = "{operation_id}"  # {why}
checks.positive_data_acceptance.expected-statuses = {[*POSITIVE_STATUSES, "422"]}
"""
        for operation_id, why in SEMANTIC_422.items()
    ) + "".join(
        f"""
[[operations]]
include-operation-id = "{operation_id}"  # {why}
checks.positive_data_acceptance.expected-statuses = {[*POSITIVE_STATUSES, "400"]}
"""
        for operation_id, why in SEMANTIC_400.items()
    )
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f"""
hooks = "tests.support.fuzz_hooks"
seed = {SEED}
workers = 2

[auth.openapi.session]
api_key = "{cookie}"

[auth.openapi.csrf]
api_key = "{csrf}"

[generation]
mode = "all"
max-examples = {EXAMPLES_PER_OPERATION}

[parameters]
"path.conversation_id" = "{conversation_id}"
"path.visitor_id" = "{visitor_id}"

[phases.stateful]
enabled = false

# The boundary and negative cases the coverage phase derives from the document do not
# depend on the role; the rep's walk (mostly 403s for admin writes) is fuzzing only.
[phases.coverage]
enabled = {"true" if role == "admin" else "false"}

[checks]
enabled = true
{semantic}""",
        encoding="utf-8",
    )
    started = time.monotonic()
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            f"--config-file={config}",
            "--no-color",
            "run",
            f"{url}/api/v1/openapi.json",
            # Signing out would end the session the rest of the walk needs.
            "--exclude-operation-id=logout",
        ],
        cwd=tmp_path,  # its cache and reports stay out of the repository
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # for the hooks module
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    took = time.monotonic() - started
    assert run.returncode == 0, f"{run.stdout[-60000:]}\n{run.stderr[-4000:]}"
    print(f"schemathesis as {role}: {took:.1f} s\n{run.stdout[-1500:]}")
