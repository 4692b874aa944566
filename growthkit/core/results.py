"""Typed answers: dataclasses whose `to_json()` is the API answer and `from_json()` reads it.

Every analytic returns a `@result` dataclass. Field names are snake_case in Python and
camelCase in JSON (`unique_users` <-> `uniqueUsers`; a trailing underscore is dropped, so
`from_` is `from`). One pydantic TypeAdapter per class does both directions and also gives
the server its OpenAPI response schemas, so the document and the answer cannot drift apart.
Times stay ISO-8601 strings, exactly as the API sends them.

The query layer around them: each analytic is `fn(connection, app, query) -> result`, where
`query` is a plain dataclass next to the function (StatsQuery, FrequencyQuery, HeatmapQuery,
FunnelQuery, SegmentsQuery, LeadsQuery, …) built from values checked by core/params.py.
Defaults that depend on "now" (the 24 h stats range, the 30-day funnel, segments' asOf)
end at the query's `now` field, epoch ms; `now=None` means the wall clock. The server never
sets it; an offline snapshot sets it to its own end, so its default ranges end there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Self, TypeVar, dataclass_transform

from pydantic import ConfigDict, TypeAdapter, with_config
from pydantic.alias_generators import to_camel

T = TypeVar("T")


def json_name(name: str) -> str:
    """The JSON key of a result field: `unique_users` -> `uniqueUsers`, `from_` -> `from`."""
    return to_camel(name.rstrip("_"))


CONFIG = ConfigDict(alias_generator=json_name, populate_by_name=True, serialize_by_alias=True)


@cache
def adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


class Result:
    """Base of every result type: the API JSON in and out."""

    def to_json(self) -> dict[str, Any]:
        """The API answer as a dict of JSON values (camelCase keys)."""
        return adapter(type(self)).dump_python(self, by_alias=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """The result read back from its API JSON (unknown keys are ignored)."""
        return adapter(cls).validate_python(data)


@dataclass_transform()
def result(cls: type[T]) -> type[T]:
    """Class decorator: a dataclass with camelCase JSON names (see the module docstring)."""
    return with_config(CONFIG)(dataclass(cls))
