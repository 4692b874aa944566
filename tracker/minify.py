"""Minify the tracker into tracker/dist/, which is what the server sends at /sdk/.

The readable files in tracker/ are the source (served too, at /sdk/src/); dist/ holds
their terser output, committed so the server needs no Node.js. After editing a tracker
file run `make tracker` (this script); `--check` exits 1 when dist/ is not the current
output (a test runs it).

    python tracker/minify.py [--check]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DIST = HERE / "dist"
FILES = ("growthkit.js", "react.js")
TERSER_VERSION = "5.36.0"  # pinned in tests/browser/package.json
# ES module (top-level names stay private, so they can be mangled), default compression.
OPTIONS = ("--module", "--compress", "--mangle", "--comments", "false")


def terser_command() -> list[str] | None:
    """terser from tests/browser/node_modules (`make dev`), else npx; None without Node."""
    local = HERE.parent / "tests" / "browser" / "node_modules" / ".bin" / "terser"
    if local.exists():
        return [str(local)]
    if shutil.which("npx"):
        return ["npx", "--yes", f"terser@{TERSER_VERSION}"]
    return None


def minify(name: str) -> bytes:
    command = terser_command()
    if command is None:
        raise RuntimeError("terser is needed: run `make dev` (npm ci --prefix tests/browser)")
    result = subprocess.run([*command, str(HERE / name), *OPTIONS], capture_output=True,
                            check=True, timeout=120)
    return result.stdout.rstrip(b"\n") + b"\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only compare dist/ with a fresh minification; exit 1 if stale")
    args = parser.parse_args()
    stale = []
    for name in FILES:
        fresh, target = minify(name), DIST / name
        if target.exists() and target.read_bytes() == fresh:
            continue
        stale.append(name)
        if not args.check:
            DIST.mkdir(exist_ok=True)
            target.write_bytes(fresh)
            print(f"wrote {target.relative_to(HERE.parent)} ({len(fresh)} bytes)")
    if args.check and stale:
        print(f"tracker/dist is stale for {', '.join(stale)}: run `make tracker`",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
