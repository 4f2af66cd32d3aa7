"""Headless Chromium for page tests (`browser`, `open_page`): Debian's build; Playwright's download fails here.

``make test`` installs it first (``make browser``). A missing browser is a failure, never a
skip, locally as in CI: a skipped test is not a pass, and pages are never shipped untested.
(``make test-fast`` leaves the browser tests out with the other slow ones.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass
class OpenedPage:
    """A page loaded in Chromium, with everything it complained about while loading."""

    page: object  # playwright.sync_api.Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return self.console_errors + self.page_errors


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One Chromium for the whole session (starting it is the slow part)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is not installed: run `make browser` (or `make test`, which installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, request) -> Iterator[Callable[[str], OpenedPage]]:
    """Open a file:// or http(s) URL in a fresh page and save a full-page screenshot once it has loaded.

    Screenshots go to ``tests/artifacts/<test-name>.png`` (a second page in the same test gets a
    numbered suffix), so a person can look at what the test saw before it clicked anything.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    opened = 0

    def _open(url: str) -> OpenedPage:
        page = context.new_page()
        result = OpenedPage(page)
        page.on("console", lambda msg: msg.type == "error" and result.console_errors.append(msg.text))
        page.on("pageerror", lambda exc: result.page_errors.append(str(exc)))
        page.goto(url, wait_until="load")
        nonlocal opened
        opened += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        suffix = f"-{opened}" if opened > 1 else ""
        page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)
        return result

    yield _open
    context.close()
