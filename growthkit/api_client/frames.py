"""pandas DataFrames of answers: UTC datetime64 time columns, JSON columns kept as dicts.

pandas is imported when a frame is asked for, so `import growthkit.api_client` stays light.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _pandas():  # noqa: ANN202
    try:
        import pandas
    except ImportError:
        raise ImportError('DataFrames need pandas: pip install "growthkit[client]"') from None
    return pandas


def records(rows: Iterable[Mapping[str, Any]], *, time_fields: Sequence[str] = (),
            columns: Sequence[str] | None = None):  # noqa: ANN201
    """One row per JSON object; `time_fields` parsed to UTC datetime64 (ISO strings in)."""
    pd = _pandas()
    frame = pd.DataFrame.from_records(list(rows), columns=columns)
    for name in time_fields:
        if name in frame.columns:
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
    return frame


def series(buckets: Sequence[str], counts: Mapping[str, Sequence[int]]):  # noqa: ANN201
    """Counts per bucket start (UTC datetime64 index) and name (columns)."""
    pd = _pandas()
    index = pd.DatetimeIndex(pd.to_datetime(list(buckets), utc=True, format="ISO8601"),
                             name="start")
    return pd.DataFrame({name: list(c) for name, c in counts.items()}, index=index)


def heatmap(matrix: Sequence[Sequence[int]]):  # noqa: ANN201
    """The 7×24 matrix with weekday rows (Mon first) and hour columns 0-23."""
    pd = _pandas()
    return pd.DataFrame([list(row) for row in matrix], index=pd.Index(DAYS, name="day"),
                        columns=pd.RangeIndex(24, name="hour"))


def to_frame(result: Any):  # noqa: ANN201
    """A DataFrame of any answer: a listing's items, the series of stats, frequency per
    bucket × name, the heatmap's 7×24 cells, a funnel's steps, segment counts."""
    if hasattr(result, "to_frame"):
        return result.to_frame()
    data = result.to_json() if hasattr(result, "to_json") else result
    if not isinstance(data, Mapping):
        raise TypeError(f"no DataFrame for {type(result).__name__}")
    if "matrix" in data:
        return heatmap(data["matrix"])
    if "buckets" in data:
        return series(data["buckets"], {s["eventName"]: s["counts"] for s in data["series"]})
    if isinstance(data.get("series"), Mapping):
        return records(data["series"]["points"], time_fields=("start",))
    if "windowSeconds" in data:
        return records(data["steps"])
    if isinstance(data.get("data"), list):
        return records(data["data"], time_fields=("firstSeen", "lastSeen", "timestamp"))
    raise TypeError(f"no DataFrame for {type(result).__name__}")
