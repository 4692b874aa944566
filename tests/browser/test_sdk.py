"""GET /sdk/growthkit.js and /sdk/react.js: content type, ETag/304, gzip, caching, CORS."""

from __future__ import annotations

import gzip

import pytest
from browser_harness import TRACKER


@pytest.mark.parametrize("name", ["growthkit.js", "react.js"])
def test_sdk_files_are_served_with_caching_headers(server, name):
    source = (TRACKER / name).read_bytes()
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
    source = (TRACKER / "growthkit.js").read_bytes()
    plain = server.client.get("/sdk/growthkit.js", headers={"Accept-Encoding": "identity"})
    with server.client.stream("GET", "/sdk/growthkit.js",
                              headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
        headers = r.headers
    assert headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in headers["vary"]
    assert gzip.decompress(raw) == source
    assert len(raw) < len(source) / 2
    assert headers["etag"] != plain.headers["etag"]
    assert server.client.get("/sdk/growthkit.js", headers={
        "Accept-Encoding": "gzip", "If-None-Match": headers["etag"]}).status_code == 304


def test_sdk_head_and_unknown_files(server):
    head = server.client.head("/sdk/growthkit.js", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len((TRACKER / "growthkit.js").read_bytes())
    missing = server.client.get("/sdk/../pyproject.toml")
    assert missing.status_code == 404
    assert server.client.get("/sdk/growthkit.d.ts").status_code == 404
