"""Debian's Chromium through Playwright, for the browser tests (never a downloaded build)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, or a skip when this machine has none (apt-get install chromium)."""
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            # Playwright gives every launch a fresh, temporary user-data-dir.
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as exc:  # any launch failure means "cannot test here"
            pytest.skip(f"Chromium cannot be launched: {exc}")
        try:
            yield browser
        finally:
            browser.close()
