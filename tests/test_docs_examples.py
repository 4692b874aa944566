"""Every marked curl, shell and Python example of README.md and docs/*.md, run against a real
server, answers what the documentation says it answers (see tests/doc_examples.py for the
block format, the placeholders and which undocumented fields fail).

Each document runs top to bottom on a fresh store of its own (SQLite; PostgreSQL + Redis as
well when GROWTHKIT_TEST_DATABASE_URL / GROWTHKIT_TEST_REDIS_URL are set), as a reader
following it would. `GROWTHKIT_DOCS_UPDATE=1` rewrites the answer blocks from the real
answers instead (keeping the placeholders that still fit), for reviewing as a diff.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from doc_examples import (
    FENCE,
    ISO_UTC,
    PLACEHOLDER,
    UUID,
    Example,
    Schemas,
    compare_body,
    compare_http,
    curl_request,
    extract,
    is_placeholder,
    parse_http,
    placeholder_matches,
    text_pattern,
)
from harness import make_settings, start_live_server

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
DOCUMENTED_URL = "http://127.0.0.1:8000"
UPDATE = os.environ.get("GROWTHKIT_DOCS_UPDATE") == "1"
NOTABLE_HEADERS = ("content-type", "retry-after", "x-cache", "idempotent-replayed",
                   "x-export-from", "content-disposition", "etag")


def documents_with_examples() -> list[str]:
    return [d for d in DOCS if extract(d, (ROOT / d).read_text())]


def test_the_docs_have_examples_to_run():
    examples = [e for d in DOCS for e in extract(d, (ROOT / d).read_text())]
    assert {"README.md", "docs/api.md"} <= {e.doc for e in examples}
    assert sum(e.answer is not None for e in examples) >= 40
    unanswered = [e.where for e in examples if e.lang == "sh" and "curl" in e.code
                  and e.answer is None]
    assert not unanswered, f"curl examples without a documented answer: {unanswered}"
    # A curl to the server in a block that is not marked would never be run.
    unmarked = [f"{d}:{text.count(chr(10), 0, m.start()) + 1}"
                for d in DOCS for text in [(ROOT / d).read_text()]
                for m in FENCE.finditer(text)
                if m.group(2).strip() in ("sh", "bash", "shell") and "curl " in m.group(3)
                and DOCUMENTED_URL in m.group(3)]
    assert not unmarked, f"curl examples not marked `sh example`: {unmarked}"


def test_every_endpoint_has_a_section_in_docs_api_md():
    """docs/api.md names every operation of the OpenAPI document in a heading."""
    from growthkit.server.app import create_app
    from growthkit.server.settings import Settings

    openapi = create_app(Settings(database_url="sqlite://")).openapi()
    headings = "\n".join(line for line in (ROOT / "docs/api.md").read_text().splitlines()
                         if line.startswith("#"))
    missing = [f"{method.upper()} {path}" for path, ops in openapi["paths"].items()
               for method in ops if f"`{method.upper()} {path}`" not in headings]
    assert not missing, f"endpoints without a section in docs/api.md: {missing}"


TRACKER = ROOT / "tracker"
JS_IMPORT = re.compile(r"import\s*\{([^}]*)\}\s*from\s*['\"]([^'\"]+)['\"]")


def tracker_exports(name: str) -> set[str]:
    source = (TRACKER / name).read_text()
    return set(re.findall(r"^export (?:async )?(?:function|const) (\w+)", source, re.M))


def test_js_snippets_use_names_the_tracker_exports():
    """The browser snippets (tag, ES module, React) cannot run here without Chromium, so
    each name they import or call on `window.growthkit` must be one the tracker exports."""
    modules = {"growthkit.js": tracker_exports("growthkit.js"),
               "react.js": tracker_exports("react.js")}
    modules["@growthkit/tracker"], modules["@growthkit/tracker/react"] = (
        modules["growthkit.js"], modules["react.js"])
    checked, wrong = 0, []
    for doc in [*DOCS, "tracker/README.md"]:
        text = (ROOT / doc).read_text()
        for block in FENCE.finditer(text):
            if block.group(2).strip() not in ("js", "jsx", "html", "ts", "tsx"):
                continue
            code = block.group(3)
            for names, source in JS_IMPORT.findall(code):
                known = next((v for k, v in modules.items()
                              if source == k or source.endswith("/" + k)), None)
                if known is None:
                    continue
                for name in (n.split(" as ")[0].strip() for n in names.split(",")):
                    checked += 1
                    if name and name not in known:
                        wrong.append(f"{doc}: {name} from {source}")
            for name in re.findall(r"\bgrowthkit\.(\w+)\(", code):
                checked += 1
                if name not in modules["growthkit.js"]:
                    wrong.append(f"{doc}: growthkit.{name}")
    assert checked >= 10
    assert not wrong, f"names the tracker does not export: {wrong}"


def test_the_tracker_installs_from_npm_pack(tmp_path):
    """The documented private-registry path: `npm pack` in tracker/, `npm install` of the
    tarball, and `@growthkit/tracker` imports with the tracker's exports."""
    if not (shutil.which("npm") and shutil.which("node")):
        pytest.skip("npm/node not installed")
    packed = subprocess.run(["npm", "pack", "--pack-destination", str(tmp_path)], cwd=TRACKER,
                            capture_output=True, text=True, timeout=120)
    assert packed.returncode == 0, packed.stderr
    tarball = next(tmp_path.glob("growthkit-tracker-*.tgz"))
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name": "app", "version": "1.0.0", "type": "module"}')
    installed = subprocess.run(["npm", "install", "--offline", "--no-audit", "--no-fund",
                                str(tarball)], cwd=app, capture_output=True, text=True,
                               timeout=120)
    assert installed.returncode == 0, installed.stderr
    listed = subprocess.run(
        ["node", "-e", "import('@growthkit/tracker').then(m => "
                       "console.log(Object.keys(m).sort().join(',')))"],
        cwd=app, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.strip().split(",")) == tracker_exports("growthkit.js")
    shipped = {p.name for p in (app / "node_modules/@growthkit/tracker").rglob("*") if p.is_file()}
    assert {"growthkit.js", "react.js", "growthkit.d.ts", "react.d.ts"} <= shipped


@pytest.mark.parametrize("doc", documents_with_examples())
def test_doc_examples_answer_as_documented(doc, database_url, redis_url, tmp_path):
    missing = [tool for tool in ("curl", "jq") if not shutil.which(tool)]
    if missing:  # .ci/run installs them; a developer machine without them skips, saying so
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            f"the docs' shell examples need {', '.join(missing)}")
    # The stream's heartbeat at 1 s ends a `curl … | sed '/^: live/q'` soon after sed quits;
    # a long write timeout keeps a loaded test machine from turning an answer into a 503.
    settings = make_settings(database_url, redis_url, query_cache_seconds=5,
                             stream_heartbeat_seconds=1, write_timeout_ms=60_000,
                             write_stall_seconds=60)
    srv, thread, base = start_live_server(settings)
    try:
        runner = Runner(doc, base, database_url, tmp_path)
        problems = runner.run_all()
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
    if UPDATE:
        runner.write_back()
    assert not problems, "\n\n".join(problems)


class Runner:
    def __init__(self, doc: str, base: str, database_url: str, tmp_path: Path):
        self.doc, self.base = doc, base
        self.text = (ROOT / doc).read_text()
        self.examples = extract(doc, self.text)
        self.env = {**os.environ, "GROWTHKIT_DATABASE_URL": database_url,
                    "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                    "PK": "pk_unset", "SK": "sk_unset", "APP": "app_unset"}
        self.work = tmp_path / "work"
        self.work.mkdir()
        self.namespace: dict = {}
        self.schemas = Schemas(httpx.get(f"{base}/openapi.json").json())
        self.updates: list[tuple[Example, str]] = []

    def run_all(self) -> list[str]:
        problems = []
        for example in self.examples:
            output = self.run(example)
            if example.answer is None:
                continue
            found = self.check(example, output)
            if found:
                problems.append(f"{example.where} ({example.code.strip()[:100]}):\n  "
                                + "\n  ".join(found))
            if UPDATE:
                self.updates.append((example, self.rewritten(example, output)))
        return problems

    def run(self, example: Example) -> str:
        code = example.code.replace(DOCUMENTED_URL, self.base)
        if example.lang == "python":
            code = code.replace("sk_…", self.env["SK"]).replace("pk_…", self.env["PK"])
            return self.run_python(example, code)
        done = subprocess.run(["bash", "-eu", "-c", code], cwd=self.work,
                              env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{example.where} failed: {done.stderr}{done.stdout}"
        self.learn_keys(done.stdout)
        return done.stdout

    def run_python(self, example: Example, code: str) -> str:
        import contextlib
        import io

        out = io.StringIO()
        cwd, data = os.getcwd(), os.environ.get("XDG_DATA_HOME")
        os.chdir(self.work)
        os.environ["XDG_DATA_HOME"] = str(self.work / "data")  # the Tracker's queue
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, example.where, "exec"), self.namespace)
        finally:
            os.chdir(cwd)
            if data is None:
                os.environ.pop("XDG_DATA_HOME", None)
            else:
                os.environ["XDG_DATA_HOME"] = data
        return out.getvalue()

    def learn_keys(self, output: str) -> None:
        """create-app --json prints the keys the following examples use as $PK/$SK."""
        try:
            made = json.loads(output)
        except ValueError:
            return
        if isinstance(made, dict) and {"publicKey", "secretKey"} <= made.keys():
            self.env.update(PK=made["publicKey"], SK=made["secretKey"], APP=made["id"])

    def check(self, example: Example, output: str) -> list[str]:
        if example.answer_kind == "http":
            method, path = curl_request(example.code)
            return compare_http(example.answer, output, self.schemas, method, path)
        if example.answer_kind in ("json", "text"):
            return compare_body(example.answer, output, self.schemas, None)
        return [f"unknown answer kind {example.answer_kind!r}"]

    # ---- GROWTHKIT_DOCS_UPDATE=1

    def rewritten(self, example: Example, output: str) -> str:
        if example.answer_kind == "http":
            status, headers, body = parse_http(output)
            _, doc_headers, doc_body = parse_http(example.answer)
            names = list(doc_headers) or [h for h in NOTABLE_HEADERS if h in headers]
            lines = [status] + [f"{n}: {keep(doc_headers.get(n), sanitized(headers.get(n, '')))}"
                                for n in names if n]
            return "\n".join(lines) + "\n\n" + rewritten_body(doc_body, body)
        return rewritten_body(example.answer, output)

    def write_back(self) -> None:
        text = self.text
        for example, answer in sorted(self.updates, key=lambda u: -u[0].answer_span[0]):
            start, end = example.answer_span
            answer = textwrap.indent(answer.rstrip("\n"), example.indent,
                                     lambda line: bool(line.strip())) + "\n"
            text = text[:start] + answer + text[end:]
        (ROOT / self.doc).write_text(text)


def keep(documented: str | None, real: str) -> str:
    return documented if documented is not None and is_placeholder(documented) else real


def rewritten_body(doc: str, real: str) -> str:
    real_s = real.strip()
    if not real_s:
        return ""
    try:
        value = json.loads(real_s)
    except ValueError:
        return doc.strip() if text_pattern(doc.strip()).fullmatch(real_s) else sanitized(real_s)
    try:
        documented = json.loads(doc.strip() or "null")
    except ValueError:
        documented = None
    return dumps(merged(documented, value))


def merged(doc, real, key: str = ""):
    """The real value with the doc's placeholders where they still fit, and placeholders for
    values that are made at run time (recent times, server ids, cursors, row numbers)."""
    if is_placeholder(doc) and placeholder_matches(doc, real):
        return doc
    if (isinstance(doc, str) and isinstance(real, str) and PLACEHOLDER.search(doc)
            and text_pattern(doc).fullmatch(real)):
        return doc
    if isinstance(real, dict):
        doc = doc if isinstance(doc, dict) else {}
        return {k: merged(doc.get(k), v, k) for k, v in real.items()}
    if isinstance(real, list):
        doc = doc if isinstance(doc, list) and len(doc) == len(real) else [None] * len(real)
        return [merged(d, r, key) for d, r in zip(doc, real, strict=True)]
    now = time.time() * 1000
    if key in ("seq",) and isinstance(real, int):
        return "<seq>"
    if key in ("nextCursor", "syncCursor") and isinstance(real, str):
        return "<cursor>"
    if isinstance(real, str) and re.fullmatch(r"init_[0-9a-f]{32}", real):
        return "<operation id>"
    if isinstance(real, str) and UUID.match(real):
        return "<uuid>"
    if isinstance(real, str) and ISO_UTC.match(real):
        t = datetime.strptime(real, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        if abs(t.timestamp() * 1000 - now) < 3_600_000:
            return "<timestamp>"
    if isinstance(real, int) and abs(real - now) < 3_600_000:
        return "<epoch ms>"
    if isinstance(real, str) and re.fullmatch(r"(pk|sk)_\w+|app_[0-9a-f]+", real):
        return f"<{ {'pk': 'public key', 'sk': 'secret key'}.get(real[:2], 'app id') }>"
    return real


RUN_TIME_TEXT = [(re.compile(r"app_[0-9a-f]{16}"), "<app id>"),
                 (re.compile(r"init_[0-9a-f]{32}"), "<operation id>"),
                 (re.compile(r"\d{8}T\d{6}Z"), "<time>"),
                 (re.compile(r'W/"[^"]+"|"[0-9a-f]{16,}"'), "<etag>")]


def sanitized(text: str) -> str:
    """Run-time values in a text answer (SSE frames, CSV, headers) as placeholders."""
    for pattern, placeholder in RUN_TIME_TEXT:
        text = pattern.sub(placeholder, text)
    now = time.time()
    for iso in set(re.findall(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", text)):
        t = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
        if abs(t - now) < 100 * 86400:
            text = text.replace(iso, "<timestamp>")
    return text


def dumps(value, indent: int = 0, width: int = 92) -> str:
    """JSON with small objects and arrays on one line, larger ones one item per line."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) + indent <= width or not isinstance(value, dict | list) or not value:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 2, width)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + dumps(v, indent + 2, width) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
