"""Core errors: what went wrong and which field it concerns, with no HTTP in them.

Every error core raises for a caller's input or state derives from GrowthKitCoreError and
carries `field` (the parameter or body field it concerns, or None) and `message` (naming the
field and the rule). The server maps each class to one HTTP status in
`growthkit/server/errors.py`; LocalSource and scripts catch them as they are.

    GrowthKitCoreError
    ├── QueryError            a value breaks its rule (range, enum, length, syntax)
    │   ├── UnreadableInput   the input cannot be read at all (not JSON, a foreign cursor)
    │   │   ├── CursorError   a cursor this listing did not hand out
    │   │   └── UnknownParameter  a parameter the query does not take
    │   └── TooLarge          over a size limit
    ├── NotFound              no such lead, segment, action or app
    ├── Conflict              the state forbids it (not enough credits, an id reused)
    └── StoreUnavailable      the store could not be reached or was busy; nothing changed
"""

from __future__ import annotations


class GrowthKitCoreError(Exception):
    """Base of every error core raises about a request; `message` is for people."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class QueryError(GrowthKitCoreError, ValueError):
    """A value breaks its rule: `QueryError(field, message)`; the message names the field."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message, field)


class UnreadableInput(QueryError):
    """The input cannot be read at all: a body that is not JSON, an altered cursor."""


class CursorError(UnreadableInput):
    """A cursor this server did not hand out for this listing (or one that was altered)."""

    DEFAULT = ("cursor is not valid here: pass the nextCursor of the previous page of the "
               "same request, or leave cursor out for the first page")

    def __init__(self, message: str = DEFAULT, field: str = "cursor"):
        super().__init__(field, message)


class UnknownParameter(UnreadableInput):
    """A parameter the query does not take (named with the closest one it does take)."""


class TooLarge(QueryError):
    """Over a size limit (a body, a batch)."""


class NotFound(GrowthKitCoreError):
    """No such thing in this app: a lead, a segment, an action, an app."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message, field)


class Conflict(GrowthKitCoreError):
    """The current state forbids the change (not enough credits, an operation id reused)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message, field)


class StoreUnavailable(GrowthKitCoreError):
    """The store could not be reached or stayed busy; nothing was changed, retry later."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message, field)
