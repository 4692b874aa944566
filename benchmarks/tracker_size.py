"""Browser tracker size: minified + gzipped bytes of tracker/*.js beside the unminified gzip.

Minifies with terser (tests/browser/node_modules after `make dev`, else `npx terser`) and
gzips at level 9, as a bundler and a web server would. The baseline is the same file
gzipped without minifying, which is what `/sdk/growthkit.js` serves.

    .venv/bin/python benchmarks/tracker_size.py [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("growthkit.js", "react.js")
TARGET = 3 * 1024  # bytes, growthkit.js minified + gzipped
TERSER_VERSION = "5.36.0"


def terser_command() -> list[str]:
    local = ROOT / "tests" / "browser" / "node_modules" / ".bin" / "terser"
    if local.exists():
        return [str(local)]
    if shutil.which("npx"):
        return ["npx", "--yes", f"terser@{TERSER_VERSION}"]
    sys.exit("terser is needed: run `make dev` (npm ci --prefix tests/browser) or install npm")


def minify(path: Path) -> bytes:
    result = subprocess.run([*terser_command(), str(path), "--module", "--compress",
                             "--mangle"], capture_output=True, check=True, timeout=120)
    return result.stdout


def gz(data: bytes) -> int:
    return len(gzip.compress(data, 9, mtime=0))


def measure() -> list[dict]:
    rows = []
    for name in FILES:
        source = (ROOT / "tracker" / name).read_bytes()
        minified = minify(ROOT / "tracker" / name)
        rows.append({"file": name, "bytes": len(source), "gzip": gz(source),
                     "minified": len(minified), "minifiedGzip": gz(minified)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    rows = measure()
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'file':<14} {'source':>8} {'gzip (baseline)':>16} {'min':>8} {'min+gzip':>9}")
    for r in rows:
        print(f"{r['file']:<14} {r['bytes']:>8} {r['gzip']:>16} {r['minified']:>8} "
              f"{r['minifiedGzip']:>9}")
    core = rows[0]["minifiedGzip"]
    verdict = "within" if core <= TARGET else "OVER"
    print(f"growthkit.js min+gzip: {core} bytes ({core / 1024:.2f} KB), {verdict} the "
          f"{TARGET // 1024} KB target; minifying saves "
          f"{100 - 100 * core / rows[0]['gzip']:.0f}% of the gzipped baseline")


if __name__ == "__main__":
    main()
