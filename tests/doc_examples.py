"""The documentation's runnable examples: found in Markdown, run, and compared with their answers.

A fenced block whose info string is `sh example` or `python example` is run; the fenced block
right after it (blank lines between are fine), if its info string ends in `answer`, is what
it must answer:

- `http answer` (after `curl -si …`): the status line, the headers worth stating (each one
  shown is checked, names ignoring case; others the server sends are not), a blank line and
  the body;
- `json answer`: the printed output, one JSON document (CLI `--json`, Python `print(json)`);
- `text answer`: the printed output as text.

Shell examples run in bash with `PK`, `SK` (the app's keys) and `APP` (its id) in the
environment, `growthkit` on the PATH and `GROWTHKIT_DATABASE_URL` set to the server's store;
the first example whose output holds `publicKey`/`secretKey` (create-app --json) sets them.
Python examples run in one namespace per document with `pk_…`/`sk_…` replaced by the keys.
`http://127.0.0.1:8000` is replaced by the test server's URL everywhere.

Placeholders: a string `"<…>"` in a documented JSON answer, header or text stands for a value
that differs between runs. `<timestamp>` is an ISO-8601 UTC time (`2026-11-23T09:00:00.000Z`),
`<epoch ms>`, `<seq>` and `<number>` are numbers, `<uuid>` a UUID, `<cursor>` a non-empty
string; any other `<words>` is a non-empty string (JSON) or non-empty text (headers, text);
inside a longer string or text (`retry after <seconds> s`) a placeholder stands for a run
of characters without a comma, quote or line end.

Fields the documentation leaves out. Other work may add optional fields to answers (the
contract only grows), so a documented JSON object may lack a field of the real answer when
the OpenAPI document's schema for that object says the field is *optional* (not in
`required`: e.g. `warnings` of the track answer, `remaining` of a bulk page). A field the
schema lists as required is always present, so a doc that misses it is stale and fails; so
does any field missing from an object the OpenAPI document gives no field list for (free
data such as `properties`, and answers without a schema), because nothing says it is
optional. Every field the doc shows must be in the answer with the shown value.
"""

from __future__ import annotations

import csv
import json
import re
import textwrap
from dataclasses import dataclass
from typing import Any

FENCE = re.compile(r"^( *)```([^\n`]*)\n(.*?)^\1```[ \t]*$", re.S | re.M)
PLACEHOLDER = re.compile(r"<[^<>\n]+>")
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NUMBER_PLACEHOLDERS = {"<epoch ms>", "<seq>", "<number>"}


@dataclass
class Example:
    doc: str
    line: int
    lang: str  # sh | python
    code: str
    answer_kind: str | None = None  # http | json | text
    answer: str | None = None
    answer_span: tuple[int, int] | None = None  # character span of the answer's content
    indent: str = ""  # of the answer block (a fence inside a list item)

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def extract(doc: str, text: str) -> list[Example]:
    """The examples of a Markdown text, in order, each with the answer block after it."""
    blocks = list(FENCE.finditer(text))
    examples = []
    for i, block in enumerate(blocks):
        info = block.group(2).split()
        if len(info) != 2 or info[1] != "example" or info[0] not in ("sh", "python"):
            continue
        example = Example(doc, text.count("\n", 0, block.start()) + 1, info[0],
                          textwrap.dedent(block.group(3)))
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if nxt and not text[block.end():nxt.start()].strip():
            kind = nxt.group(2).split()
            if len(kind) == 2 and kind[1] == "answer":
                example.answer_kind, example.answer = kind[0], textwrap.dedent(nxt.group(3))
                example.answer_span, example.indent = nxt.span(3), nxt.group(1)
        examples.append(example)
    return examples


# ---- comparing


def is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and PLACEHOLDER.fullmatch(value) is not None


def placeholder_matches(placeholder: str, value: Any) -> bool:
    if placeholder in NUMBER_PLACEHOLDERS:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if not isinstance(value, str) or not value:
        return False
    if placeholder == "<timestamp>":
        return ISO_UTC.match(value) is not None
    if placeholder == "<uuid>":
        return UUID.match(value) is not None
    return True


def text_pattern(documented: str) -> re.Pattern:
    """A documented text (a header value, a CSV file) as a pattern: placeholders match any
    run of text without a comma, quote or line end."""
    if is_placeholder(documented):
        return re.compile(r".+", re.S)
    parts, last = [], 0
    for m in PLACEHOLDER.finditer(documented):
        parts += [re.escape(documented[last:m.start()]), r'[^,"\r\n]+']
        last = m.end()
    parts.append(re.escape(documented[last:]))
    return re.compile("".join(parts), re.S)


class Schemas:
    """Response schemas of the OpenAPI document, to tell optional fields from required ones."""

    def __init__(self, openapi: dict):
        self.doc = openapi
        self.paths = [(re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", p) + "$"), p)
                      for p in openapi["paths"]]

    def resolve(self, schema: dict | None) -> dict | None:
        while schema and "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.doc["components"]["schemas"][name]
        return schema

    def response(self, method: str, path: str, status: int) -> dict | None:
        for pattern, template in self.paths:
            if pattern.match(path):
                op = self.doc["paths"][template].get(method.lower(), {})
                content = op.get("responses", {}).get(str(status), {}).get("content", {})
                return self.resolve(content.get("application/json", {}).get("schema"))
        return None

    def variant(self, schema: dict | None, value: Any) -> dict | None:
        """The branch of an anyOf/oneOf that fits the value (nullable fields)."""
        schema = self.resolve(schema)
        if not schema:
            return None
        for key in ("anyOf", "oneOf"):
            for option in schema.get(key, []):
                option = self.resolve(option)
                kind = option.get("type")
                if (kind == "object" and isinstance(value, dict)) or (
                        kind == "array" and isinstance(value, list)):
                    return option
        return schema


def compare(doc: Any, real: Any, schemas: Schemas, schema: dict | None,
            path: str = "$") -> list[str]:
    """Differences between a documented JSON value and the real one (empty: they agree)."""
    if is_placeholder(doc):
        return [] if placeholder_matches(doc, real) else [
            f"{path}: {real!r} does not fit the placeholder {doc}"]
    if isinstance(doc, str) and PLACEHOLDER.search(doc) and isinstance(real, str):
        return [] if text_pattern(doc).fullmatch(real) else [
            f"{path}: {real!r} does not fit {doc!r}"]
    if isinstance(doc, str) and isinstance(real, str) and doc[:1] in "{[" and doc != real:
        try:  # JSON text (bulk rows): key order and spacing are the store's own
            return compare(json.loads(doc), json.loads(real), schemas, None, path)
        except ValueError:
            pass
    schema = schemas.variant(schema, real)
    if isinstance(doc, dict) and isinstance(real, dict):
        problems = []
        props = (schema or {}).get("properties")
        required = set((schema or {}).get("required", [])) if props else None
        for key, value in doc.items():
            if key not in real:
                problems.append(f"{path}.{key}: documented, but not in the answer")
            else:
                sub = (props or {}).get(key) or (schema or {}).get("additionalProperties")
                problems += compare(value, real[key], schemas,
                                    sub if isinstance(sub, dict) else None, f"{path}.{key}")
        for key in real.keys() - doc.keys():
            if required is None or key in required:
                problems.append(f"{path}.{key}: in the answer ({real[key]!r}) but not documented")
        return problems
    if isinstance(doc, list) and isinstance(real, list):
        if len(doc) != len(real):
            return [f"{path}: {len(doc)} items documented, {len(real)} in the answer: {real!r}"]
        items = (schema or {}).get("items")
        return [p for i, (d, r) in enumerate(zip(doc, real, strict=True))
                for p in compare(d, r, schemas, items, f"{path}[{i}]")]
    if doc == real and type(doc) is type(real) or (
            isinstance(doc, int | float) and isinstance(real, int | float)
            and not isinstance(doc, bool) and doc == real):
        return []
    return [f"{path}: documented {doc!r}, answered {real!r}"]


def parse_http(text: str) -> tuple[str, dict[str, str], str]:
    """Status line, headers (lower-case names) and body of an HTTP answer as `curl -i` prints
    it (the last answer, when curl followed or continued)."""
    text = text.replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    while body.startswith("HTTP/") and head.split()[1].startswith("1"):  # 100 Continue
        head, _, body = body.partition("\n\n")
    lines = head.split("\n")
    headers = {}
    for line in filter(None, lines[1:]):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0].strip(), headers, body


def compare_body(doc: str, real: str, schemas: Schemas, schema: dict | None) -> list[str]:
    doc_s, real_s = doc.strip(), real.strip()
    if not doc_s:
        return [] if not real_s else [f"body: none documented, answered {real_s[:300]!r}"]
    try:
        documented = json.loads(doc_s)
    except ValueError:
        documented = None
    else:
        try:
            return compare(documented, json.loads(real_s), schemas, schema)
        except ValueError:
            return [f"body: documented JSON, answered {real_s[:300]!r}"]
    lines = doc_s.splitlines()
    try:  # NDJSON: one JSON document per line
        docs = [json.loads(line) for line in lines]
    except ValueError:
        docs = None
    if docs is not None and len(lines) > 1:
        reals = real_s.splitlines()
        if len(reals) != len(docs):
            return [f"body: {len(docs)} lines documented, {len(reals)} answered"]
        return [p for i, (d, r) in enumerate(zip(docs, reals, strict=True))
                for p in compare(d, json.loads(r), schemas, schema, f"line {i + 1}")]
    doc_lines, real_lines = doc_s.replace("\r\n", "\n").split("\n"), real_s.replace(
        "\r\n", "\n").split("\n")
    if len(doc_lines) != len(real_lines):
        return [f"body: {len(doc_lines)} lines documented, {len(real_lines)} answered: "
                f"{real_s[:300]!r}"]
    return [p for i, (d, r) in enumerate(zip(doc_lines, real_lines, strict=True))
            for p in compare_line(d, r, schemas, f"line {i + 1}")]


def compare_line(doc: str, real: str, schemas: Schemas, where: str) -> list[str]:
    """A line of a text answer: an SSE `data:` line or a CSV row compare their JSON as JSON
    (PostgreSQL keeps object keys in its own order), anything else as text."""
    if text_pattern(doc).fullmatch(real):
        return []
    if doc.startswith("data: ") and real.startswith("data: "):
        quoted = re.sub(r"(?<=[:\[,])(<[^<>\n]+>)", r'"\1"', doc[6:])  # "seq":<seq>
        try:
            return compare(json.loads(quoted), json.loads(real[6:]), schemas, None, where)
        except ValueError:
            pass
    doc_cells, real_cells = next(csv.reader([doc])), next(csv.reader([real]))
    if len(doc_cells) == len(real_cells) > 1:
        return [p for d, r in zip(doc_cells, real_cells, strict=True)
                if not (d in NUMBER_PLACEHOLDERS and r.isdigit())
                for p in compare(d, r, schemas, None, where)]
    return [f"{where}: documented {doc[:300]!r}, answered {real[:300]!r}"]


def compare_http(doc: str, real: str, schemas: Schemas, method: str, path: str) -> list[str]:
    doc_status, doc_headers, doc_body = parse_http(doc)
    status, headers, body = parse_http(real)
    if doc_status.split()[1:] != status.split()[1:]:
        return [f"status: documented {doc_status!r}, answered {status!r}: {body[:300]}"]
    problems = []
    for name, value in doc_headers.items():
        if name not in headers:
            problems.append(f"header {name}: documented, not sent")
        elif not text_pattern(value).fullmatch(headers[name]):
            problems.append(f"header {name}: documented {value!r}, sent {headers[name]!r}")
    schema = schemas.response(method, path, int(status.split()[1]))
    return problems + compare_body(doc_body, body, schemas, schema)


def curl_request(code: str) -> tuple[str, str]:
    """Method and URL path of the last curl command in a shell example."""
    command = code[code.rindex("curl"):]
    url = re.search(r"https?://[^/\s'\"]+(/[^\s'\"?]*)", command)
    method = re.search(r"-X\s*(\w+)", command)
    if method:
        return method.group(1), url.group(1)
    return ("POST" if re.search(r"\s(-d|--data\S*)\s", command) else "GET"), url.group(1)
