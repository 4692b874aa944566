"""The tracker's TypeScript types: the typed usage example compiles, misuse does not."""

from __future__ import annotations

import json
import subprocess

from browser_harness import TRACKER


def tsc(npm_bin, project) -> subprocess.CompletedProcess:
    return subprocess.run([npm_bin("tsc"), "--noEmit", "-p", str(project)],
                          capture_output=True, text=True, timeout=120)


def test_typed_usage_example_compiles(npm_bin):
    result = tsc(npm_bin, TRACKER / "tsconfig.json")
    assert result.returncode == 0, result.stdout + result.stderr


def test_misuse_is_a_type_error(npm_bin, tmp_path):
    bad = tmp_path / "bad.ts"
    bad.write_text(
        f"import {{ track, init }} from '{TRACKER / 'growthkit.js'}';\n"
        f"import {{ useGrowthKit }} from '{TRACKER / 'react.js'}';\n"
        "track('clicked', 'button');\n"
        "init({ apiUrl: 'https://gk.example.com' });\n"
        "const credits: string = useGrowthKit().credits;\n")
    (tmp_path / "tsconfig.json").write_text(json.dumps({
        "extends": str(TRACKER / "tsconfig.json"), "files": [str(bad)]}))
    result = tsc(npm_bin, tmp_path / "tsconfig.json")
    assert result.returncode != 0
    errors = [line for line in result.stdout.splitlines() if "error TS" in line]
    assert len(errors) == 3, result.stdout
    assert "bad.ts(3," in errors[0] and "'string' is not assignable" in errors[0]
    assert "bad.ts(4," in errors[1] and "'GrowthKitConfig'" in errors[1]
    assert "bad.ts(5," in errors[2] and "'number | null' is not assignable" in errors[2]
