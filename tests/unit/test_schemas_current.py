"""docs/schemas holds the JSON Schema of every frame and the whole protocol, exactly as
the frame classes define them."""

from __future__ import annotations

import json
from pathlib import Path

from pounce.realtime.frames import bundle, json_schemas

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def test_published_schemas_match_the_code() -> None:
    expected = {**json_schemas(), "protocol": bundle()}
    on_disk = {p.stem: json.loads(p.read_text()) for p in DOCS.glob("*.json")}
    assert set(on_disk) == set(expected), "run `pounce schemas` to refresh docs/schemas"
    for name, schema in expected.items():
        assert on_disk[name] == schema, f"{name} is stale: run `pounce schemas`"


def test_the_frame_reference_matches_the_code() -> None:
    from pounce.realtime.frames.protocol import reference_markdown

    on_disk = (DOCS.parent / "frames.md").read_text()
    assert on_disk == reference_markdown(), "docs/frames.md is stale: run `pounce schemas`"
