"""Browser tracker size: the gzipped bytes `/sdk/growthkit.js` sends, beside the readable source.

Asks a real app (in process, on a throwaway SQLite file) for each `/sdk/` file with
`Accept-Encoding: gzip` and counts the bytes on the wire; the baseline is the readable
source gzipped the same way (what the server sent before it served tracker/dist/). It
also says whether tracker/dist/ is terser's current output of the source
(tracker/minify.py --check; needs terser from `make dev`, else npx).

    .venv/bin/python benchmarks/tracker_size.py [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from growthkit.server.app import create_app
from growthkit.server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FILES = ("growthkit.js", "react.js")
TARGET = 3 * 1024  # bytes, growthkit.js as served (minified + gzipped)


def gz(data: bytes) -> int:
    return len(gzip.compress(data, 9, mtime=0))


def served_sizes() -> dict[str, tuple[int, int]]:
    """(identity bytes, gzip bytes on the wire) of each /sdk/ file."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(database_url=f"sqlite:///{tmp}/size.db"))
        with TestClient(app) as client:
            for name in FILES:
                plain = client.get(f"/sdk/{name}", headers={"Accept-Encoding": "identity"})
                with client.stream("GET", f"/sdk/{name}",
                                   headers={"Accept-Encoding": "gzip"}) as r:
                    assert r.headers.get("content-encoding") == "gzip"
                    wire = b"".join(r.iter_raw())
                out[name] = (len(plain.content), len(wire))
    return out


def dist_is_current() -> bool | None:
    done = subprocess.run([sys.executable, str(ROOT / "tracker" / "minify.py"), "--check"],
                          capture_output=True, timeout=180, check=False)
    return None if b"terser is needed" in done.stderr else done.returncode == 0


def measure() -> list[dict]:
    served = served_sizes()
    rows = []
    for name in FILES:
        source = (ROOT / "tracker" / name).read_bytes()
        rows.append({"file": name, "source": len(source), "sourceGzip": gz(source),
                     "served": served[name][0], "servedGzip": served[name][1]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    rows, current = measure(), dist_is_current()
    if args.json:
        print(json.dumps({"files": rows, "distCurrent": current}, indent=2))
        return
    print(f"{'file':<14} {'source':>8} {'source gzip (baseline)':>23} {'served':>8} "
          f"{'served gzip':>12}")
    for r in rows:
        print(f"{r['file']:<14} {r['source']:>8} {r['sourceGzip']:>23} {r['served']:>8} "
              f"{r['servedGzip']:>12}")
    core = rows[0]["servedGzip"]
    verdict = "within" if core <= TARGET else "OVER"
    print(f"/sdk/growthkit.js sends {core} bytes gzipped ({core / 1024:.2f} KB), {verdict} "
          f"the {TARGET // 1024} KB target; {100 - 100 * core / rows[0]['sourceGzip']:.0f}% "
          "less than the readable source gzipped")
    print({True: "tracker/dist/ is current with the source",
           False: "tracker/dist/ is STALE: run `make tracker`",
           None: "tracker/dist/ not checked (terser missing: make dev)"}[current])


if __name__ == "__main__":
    main()
