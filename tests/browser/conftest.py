"""Browser tests: the session application served over HTTP to headless Chromium.

The server runs in a thread of this process, so the pages it renders read and write the
test's own transaction (see `_isolated_database`): whatever a test creates is visible to
the browser, and whatever the browser does is rolled back with the test.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright
from werkzeug.serving import make_server

BROWSER_DIR = Path(__file__).parent
FALLBACK_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1280, "height": 900}
NOT_INSTALLED = "Debian's chromium is not installed: apt-get install chromium"


def pytest_collection_modifyitems(config, items):
    """Every test in this folder drives a browser."""
    for item in items:
        if item.path.is_relative_to(BROWSER_DIR):
            item.add_marker(pytest.mark.browser)


def chromium_path() -> str | None:
    """CHROMIUM_PATH, else `chromium` on the PATH, else Debian's usual place."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        if not os.access(configured, os.X_OK):
            pytest.fail(f"CHROMIUM_PATH is set to {configured!r}, which is not an executable", pytrace=False)
        return configured
    found = shutil.which("chromium")
    if found:
        return found
    return FALLBACK_CHROMIUM if os.access(FALLBACK_CHROMIUM, os.X_OK) else None


def read_whole_answers(app):
    """The app, with each answer read (and its file closed) before the server writes it.

    Werkzeug's development server skips closing an answer when the browser drops the connection
    part-way (Chromium does, leaving a page while its logo loads); the open file then warns when
    it is collected, failing whichever test is running. Test pages and files are small.
    """

    def wsgi(environ, start_response):
        answer = app(environ, start_response)
        try:
            return [b"".join(answer)]
        finally:
            if hasattr(answer, "close"):
                answer.close()

    return wsgi


@pytest.fixture
def live_url(app) -> Iterator[str]:
    """The session app served on a free port of 127.0.0.1, one request at a time."""
    server = make_server("127.0.0.1", 0, read_whole_answers(app), threaded=False)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        assert not thread.is_alive(), "the live server did not stop"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run."""
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{NOT_INSTALLED} (browser tests cannot be skipped on CI)", pytrace=False)
        pytest.skip(NOT_INSTALLED)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors (CSP violations included) and uncaught exceptions seen by `page`."""
    return []


@pytest.fixture
def page(browser: Browser, live_url: str, console_errors: list[str]) -> Iterator[Page]:
    """A page in a fresh browser context pointed at the live server.

    The test fails at teardown if the page logged an error to the console: a missing
    asset, a Content-Security-Policy violation or a script error.
    """

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            source = message.location.get("url") or "the page"
            console_errors.append(f"console error from {source}: {message.text}")

    def on_page_error(error: Error) -> None:
        console_errors.append(f"uncaught exception: {error.message}")

    context = browser.new_context(base_url=live_url, viewport=VIEWPORT)
    try:
        new_page = context.new_page()
        new_page.on("console", on_console)
        new_page.on("pageerror", on_page_error)
        yield new_page
    finally:
        context.close()
    if console_errors:
        pytest.fail("the browser reported errors:\n" + "\n".join(console_errors), pytrace=False)
