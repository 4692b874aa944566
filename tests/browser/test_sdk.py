"""GET /sdk/growthkit.js and /sdk/react.js: the minified files (current with their source),
content type, ETag/304, gzip, caching, CORS; the readable source at /sdk/src/."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys

import pytest
from browser_harness import TRACKER

DIST = TRACKER / "dist"


@pytest.mark.parametrize("name", ["growthkit.js", "react.js"])
def test_sdk_files_are_served_with_caching_headers(server, name):
    source = (DIST / name).read_bytes()
    r = server.client.get(f"/sdk/{name}", headers={"Accept-Encoding": "identity",
                                                   "Origin": "https://shop.example"})
    assert r.status_code == 200
    assert r.content == source
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["cache-control"] == "public, max-age=3600"
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "content-encoding" not in r.headers
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')

    again = server.client.get(f"/sdk/{name}", headers={"Accept-Encoding": "identity",
                                                       "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, max-age=3600"
    # A list of tags, a weak tag and * all match; another tag does not.
    for header in (f'"other", {etag}', f"W/{etag}", "*"):
        assert server.client.get(f"/sdk/{name}", headers={
            "Accept-Encoding": "identity", "If-None-Match": header}).status_code == 304
    assert server.client.get(f"/sdk/{name}", headers={
        "Accept-Encoding": "identity", "If-None-Match": '"other"'}).status_code == 200


def test_sdk_is_gzipped_when_accepted_with_its_own_etag(server):
    source = (DIST / "growthkit.js").read_bytes()
    plain = server.client.get("/sdk/growthkit.js", headers={"Accept-Encoding": "identity"})
    with server.client.stream("GET", "/sdk/growthkit.js",
                              headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
        headers = r.headers
    assert headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in headers["vary"]
    assert gzip.decompress(raw) == source
    assert len(raw) < 0.6 * len(source)
    assert headers["etag"] != plain.headers["etag"]
    assert server.client.get("/sdk/growthkit.js", headers={
        "Accept-Encoding": "gzip", "If-None-Match": headers["etag"]}).status_code == 304


def test_sdk_head_and_unknown_files(server):
    head = server.client.head("/sdk/growthkit.js", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len((DIST / "growthkit.js").read_bytes())
    missing = server.client.get("/sdk/../pyproject.toml")
    assert missing.status_code == 404
    assert server.client.get("/sdk/growthkit.d.ts").status_code == 404
    assert server.client.get("/sdk/src/minify.py").status_code == 404
    assert server.client.get("/sdk/dist/growthkit.js").status_code == 404


def test_shipped_minified_tracker_is_current():
    """tracker/dist/ is terser's output of today's tracker/ source (re-minified and compared)."""
    terser = TRACKER.parent / "tests" / "browser" / "node_modules" / ".bin" / "terser"
    if not terser.exists() and not shutil.which("npx"):
        pytest.skip("npm is missing: cannot re-minify the tracker to compare (make dev)")
    done = subprocess.run([sys.executable, str(TRACKER / "minify.py"), "--check"],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", ["growthkit.js", "react.js"])
def test_served_tracker_is_minified_and_the_source_is_beside_it(server, name):
    minified = server.client.get(f"/sdk/{name}", headers={"Accept-Encoding": "identity"})
    readable = server.client.get(f"/sdk/src/{name}", headers={"Accept-Encoding": "identity"})
    assert minified.status_code == readable.status_code == 200
    assert minified.content == (DIST / name).read_bytes()
    assert readable.content == (TRACKER / name).read_bytes()
    assert len(minified.content) < 0.6 * len(readable.content)
    assert b"/**" not in minified.content and b"/**" in readable.content  # comments gone
    assert readable.headers["etag"] != minified.headers["etag"]
