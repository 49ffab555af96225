"""One headless chromium per test process (Playwright with Debian's chromium).

Session-scoped: launching chromium costs about a CPU-second, and every test opens its
own page (``browser.new_page()`` is a fresh context: no cookie or storage is shared).
Skips when playwright or the browser is missing; fails instead under
SLUICE_REQUIRE_SERVICES=1 (``.ci/run`` installs chromium first).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _service_missing

CHROMIUM = os.environ.get("SLUICE_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _service_missing("playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        _service_missing(f"no chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield b
        finally:
            b.close()
