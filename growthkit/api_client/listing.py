"""Listings: iterators over cursor-paged answers that fetch the next page as they go."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from growthkit.api_client import frames

T = TypeVar("T")

# One page: (cursor or None) -> the answer {"data": [...], "nextCursor": ..., ...}.
FetchPage = Callable[[str | None, int], dict[str, Any]]

MAX_PAGE_SIZE = 1000


class Listing(Generic[T]):
    """Items of every page in order, following `nextCursor`; at most `limit` in all.

    `meta` holds the last page's other fields (e.g. a ledger's `balance`, a rule's
    `count`, a segment's `asOf`). `to_frame()` reads the rest into a DataFrame.
    """

    def __init__(self, fetch: FetchPage, parse: Callable[[dict[str, Any]], T], *,
                 page_size: int, limit: int | None, time_fields: tuple[str, ...] = (),
                 columns: list[str] | None = None):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1-{MAX_PAGE_SIZE}, not {page_size}")
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be 0 or more, not {limit}")
        self._fetch = fetch
        self._parse = parse
        self._page_size = page_size
        self._limit = limit
        self._time_fields = time_fields
        self._columns = columns
        self._items = self._generate()
        self.meta: dict[str, Any] = {}
        self.pages = 0

    def _generate(self) -> Iterator[T]:
        cursor: str | None = None
        left = self._limit
        while left is None or left > 0:
            size = self._page_size if left is None else min(self._page_size, left)
            page = self._fetch(cursor, size)
            self.pages += 1
            self.meta = {k: v for k, v in page.items() if k not in ("data", "nextCursor")}
            for item in page["data"][:left]:
                yield self._parse(item)
            if left is not None:
                left -= min(left, len(page["data"]))
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        return next(self._items)

    def to_list(self) -> list[T]:
        return list(self)

    def to_frame(self):  # noqa: ANN201 - pandas is imported lazily
        """The remaining items as a DataFrame in the API's field names (camelCase), times as
        UTC datetime64, JSON objects (properties, context, traits) as dicts."""
        rows = [item.to_json() for item in self]  # type: ignore[attr-defined]
        return frames.records(rows, time_fields=self._time_fields,
                              columns=None if rows else self._columns)
