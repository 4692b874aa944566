"""The browser tracker files served at /sdk/: ETag revalidation, gzip, CORS for any site.

`/sdk/growthkit.js` and `/sdk/react.js` are the minified files (tracker/dist/, made by
tracker/minify.py); `/sdk/src/…` the readable source they are made from, for debugging
(react.js imports ./growthkit.js, so each pair loads one tracker instance).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from starlette.responses import Response

from growthkit.server.errors import ApiError

router = APIRouter(tags=["sdk"])

# URL name under /sdk/ -> file under tracker/ (an allow-list: no other paths are served).
SERVED = {
    "growthkit.js": "dist/growthkit.js",
    "react.js": "dist/react.js",
    "src/growthkit.js": "growthkit.js",
    "src/react.js": "react.js",
}
MEDIA_TYPE = "text/javascript; charset=utf-8"
# What the document says these answer: JavaScript, a 304 for a matching If-None-Match.
SCRIPT = {200: {"content": {"text/javascript": {"schema": {"type": "string"}}},
                "description": "The script"},
          304: {"description": "Not modified (If-None-Match matched the ETag)"}}
# Unversioned URLs: caches keep a copy for an hour, then revalidate cheaply with the ETag.
CACHE_CONTROL = "public, max-age=3600"


def tracker_dir() -> Path:
    """Where the tracker files are: the package's resources/tracker (a symlink to the
    repository's tracker/ that wheels resolve into real files), else the checkout's tracker/."""
    installed = Path(str(files("growthkit.resources") / "tracker"))
    if (installed / SERVED["growthkit.js"]).is_file():
        return installed
    return Path(__file__).resolve().parents[3] / "tracker"


@dataclass(frozen=True)
class Asset:
    mtime_ns: int
    body: bytes
    gzipped: bytes
    etag: str  # of the identity body; the gzip variant's ends in -gz


_assets: dict[str, Asset] = {}


def load(name: str) -> Asset:
    """The file's bytes and ETag; re-read when it changed on disk (edits while developing)."""
    path = tracker_dir() / SERVED[name]
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise ApiError(404, f"/sdk/{name} is missing from this installation ({path})") from None
    cached = _assets.get(name)
    if cached is None or cached.mtime_ns != mtime:
        body = path.read_bytes()
        etag = hashlib.sha256(body).hexdigest()[:32]
        cached = Asset(mtime, body, gzip.compress(body, 9, mtime=0), etag)
        _assets[name] = cached
    return cached


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison against a list of entity tags (or *)."""
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or f'"{etag}"' in tags


def _serve(request: Request, name: str) -> Response:
    asset = load(name)
    accepts_gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
    etag = asset.etag + ("-gz" if accepts_gzip else "")
    headers = {
        "ETag": f'"{etag}"',
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Encoding",
        # Pages with Cross-Origin-Embedder-Policy may load it from another origin.
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if _matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    if accepts_gzip:
        headers["Content-Encoding"] = "gzip"
    body = asset.gzipped if accepts_gzip else asset.body
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=MEDIA_TYPE)
    return Response(body, headers=headers, media_type=MEDIA_TYPE)


@router.head("/sdk/growthkit.js", include_in_schema=False)
@router.get("/sdk/growthkit.js", responses=SCRIPT, response_class=Response,
                  summary="The browser tracker (ES module, minified)",
                  description="Load with `<script type=\"module\" src=\"…/sdk/growthkit.js\" "
                              "data-key=\"pk_…\">` or `import {init, track} from …`. "
                              "ETag + If-None-Match (304), gzip, CORS.")
def growthkit_js(request: Request) -> Response:
    return _serve(request, "growthkit.js")


@router.head("/sdk/react.js", include_in_schema=False)
@router.get("/sdk/react.js", responses=SCRIPT, response_class=Response,
                  summary="The React bindings (GrowthKitProvider, useGrowthKit)",
                  description="An ES module importing `react` (map it with an import map) and "
                              "`./growthkit.js`.")
def react_js(request: Request) -> Response:
    return _serve(request, "react.js")


@router.head("/sdk/src/{name}", include_in_schema=False)
@router.get("/sdk/src/{name}", summary="The readable tracker source (growthkit.js, react.js)",
            response_class=Response,
            responses={**SCRIPT, 404: {"description": "Not one of the served files"}},
            description="What the minified files are made from, with comments, for debugging; "
                        "same headers as the minified files.")
def tracker_source(request: Request, name: str = PathParam(
        ..., json_schema_extra={"enum": ["growthkit.js", "react.js"]})) -> Response:
    if f"src/{name}" not in SERVED:
        raise ApiError(404, f"/sdk/src/{name} does not exist: growthkit.js or react.js")
    return _serve(request, f"src/{name}")
