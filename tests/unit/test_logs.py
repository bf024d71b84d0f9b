"""The `pounce` command's logging: what a first run prints."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from pounce.logs import configure_logging


@pytest.fixture
def restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    plugins = logging.getLogger("alembic.runtime.plugins")
    plugins_level = plugins.level
    yield
    root.handlers[:], root.level = handlers, level
    plugins.setLevel(plugins_level)
    logging.captureWarnings(False)


def test_alembic_plugin_setup_is_quiet_but_migrations_are_said(restored: None) -> None:
    configure_logging(json_logs=False)
    assert not logging.getLogger("alembic.runtime.plugins").isEnabledFor(logging.INFO)
    assert logging.getLogger("alembic.runtime.migration").isEnabledFor(logging.INFO)
    configure_logging(json_logs=False, level=logging.ERROR)
    assert not logging.getLogger("alembic.runtime.plugins").isEnabledFor(logging.WARNING)
