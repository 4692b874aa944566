"""Browser fixtures: headless Chromium (Debian's, driven by Playwright) and a static page server.

Test pages come from their own HTTP server on another port, so every request the tracker
makes to the GrowthKit server is cross-origin (CORS, sendBeacon) as on a real site.
Without /usr/bin/chromium, Playwright or tests/browser/node_modules the tests skip on a
developer machine, and fail under CI=true, where they must run.
"""

from __future__ import annotations

import html
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

HERE = Path(__file__).parent
PAGES = HERE / "pages"
NODE_MODULES = HERE / "node_modules"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

def missing(reason: str) -> None:
    """Skip on a developer machine; in CI a missing prerequisite is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests)")
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        # Playwright turns the back/forward cache off by default; real browsers have it.
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                              ignore_default_args=["--disable-back-forward-cache"])
        yield b
        b.close()


@pytest.fixture
def context(browser) -> Iterator[Any]:
    """A fresh browser profile per test (its own localStorage), in a fixed time zone."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US",
                              timezone_id="Asia/Tokyo")
    yield ctx
    ctx.close()


@pytest.fixture
def node_modules() -> Path:
    if not (NODE_MODULES / "react").is_dir():
        missing("tests/browser/node_modules is missing (npm ci --prefix tests/browser)")
    return NODE_MODULES


class _Handler(SimpleHTTPRequestHandler):
    """Files of pages/ (and /node_modules/…); `{{api}}`/`{{key}}` in HTML from the query."""

    def translate_path(self, path: str) -> str:
        rel = urlsplit(path).path.lstrip("/")
        if rel.startswith("node_modules/"):
            return str(NODE_MODULES / rel.removeprefix("node_modules/"))
        return str(PAGES / rel)

    def send_head(self):  # noqa: ANN201
        parts = urlsplit(self.path)
        target = Path(self.translate_path(self.path))
        if target.suffix != ".html" or not target.is_file():
            return super().send_head()
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        text = target.read_text()
        for name in ("api", "key"):
            text = text.replace("{{" + name + "}}", html.escape(query.get(name, "")))
        body = text.encode()
        self.send_response(200)
        if "cache" in query:  # lets a page load again from the HTTP cache while offline
            self.send_header("Cache-Control", "max-age=600")
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        from io import BytesIO

        return BytesIO(body)

    def end_headers(self) -> None:
        if "cache=" not in self.path:
            self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def pages() -> Iterator[str]:
    """Base URL of the static page server (a different origin from the GrowthKit server)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(PAGES)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def npm_bin(node_modules) -> Callable[[str], str]:
    def find(name: str) -> str:
        path = node_modules / ".bin" / name
        if not path.exists() or not shutil.which("node"):
            missing(f"{name} (from tests/browser/node_modules) or node is missing")
        return str(path)
    return find
