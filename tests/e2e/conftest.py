"""End-to-end: a real server with the demo org, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.support.stack import Stack, drop_stack, in_ci, make_stack

CHROMIUM = os.environ.get("POUNCE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
STATIC = Path(__file__).resolve().parents[2] / "src" / "pounce" / "static"
DEMO_PASSWORD = "pounce-demo"
ADMIN = "admin@acme.test"
RILEY = "riley@acme.test"
SAM = "sam@acme.test"


def _require_browser_and_build() -> None:
    problems = []
    if not Path(CHROMIUM).exists():
        problems.append(f"Chromium is not installed at {CHROMIUM} (make chromium)")
    if not (STATIC / "console" / "index.html").exists():
        problems.append("the front end is not built (make web)")
    if problems:
        if in_ci():
            pytest.fail("; ".join(problems))
        pytest.skip("; ".join(problems))


@dataclass
class Demo:
    url: str
    stack: Stack


@contextmanager
def demo_server(tmp: Path, **env: str) -> Iterator[Demo]:
    """The demo org on an embedded server of its own, with settings of its own (`env`)."""
    _require_browser_and_build()
    stack = make_stack("embedded", tmp, **env)
    url = stack.start()
    stack.env_extra["POUNCE_PUBLIC_URL"] = url
    stack.cli("demo")
    try:
        yield Demo(url=url, stack=stack)
    finally:
        drop_stack(stack)


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with demo_server(Path(tmp_path_factory.mktemp("e2e"))) as made:
        yield made


@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    _require_browser_and_build()
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
        ],
    )
    yield browser
    browser.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[callable]:  # type: ignore[valid-type]
    made: list[BrowserContext] = []

    def make(**kwargs: object) -> BrowserContext:
        options: dict[str, object] = {"viewport": {"width": 1360, "height": 860}, **kwargs}
        ctx = browser.new_context(**options)  # type: ignore[arg-type]
        ctx.set_default_timeout(10_000)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
