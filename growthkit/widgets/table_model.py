"""The console's one table model: dict rows shown through declared columns, sorted by raw
value behind a QSortFilterProxyModel; refreshes can keep the user's selection and scroll.

Each column says its header, how a row displays in it and what it sorts by (numbers as
numbers, times as times). Text is plain text: a view shows it literally, never as HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
KEY_ROLE = Qt.ItemDataRole.UserRole + 3
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    header: str
    display: Callable[[dict], Any]  # what is shown (None shows as empty)
    sort: Callable[[dict], Any] | None = None  # default: the display value
    align_right: bool = False  # a number column: right-aligned, missing values sort first
    tooltip: Callable[[dict], str | None] | None = None  # default: the shown text
    colour: Callable[[dict], QColor | None] | None = None
    tip: str = ""  # the header's tooltip


def key(name: str) -> Callable[[dict], Any]:
    """A column reading one key of the row."""
    return lambda row: row.get(name)


class RowsModel(QAbstractTableModel):
    """Rows (dicts) shown through `columns`. With `key` (what identifies a row across
    refreshes), `set_rows` with the same keys in the same order changes values in place, so
    selection and scroll stay (see keep_view)."""

    def __init__(self, columns: Sequence[Column], parent: QObject | None = None, *,
                 key: Callable[[dict], Any] | None = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.key = key
        self.rows: list[dict] = []

    def set_rows(self, rows: Sequence[dict]) -> None:
        rows = list(rows)
        if (self.key is not None and rows
                and [self.key(r) for r in rows] == [self.key(r) for r in self.rows]):
            self.rows = rows
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(rows) - 1, len(self.columns) - 1))
            return
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def append_rows(self, rows: Sequence[dict]) -> None:
        if not rows:
            return
        first = len(self.rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self.rows.extend(rows)
        self.endInsertRows()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _text(col.display(row))
        if role == SORT_ROLE:
            value = (col.sort or col.display)(row)
            if value is None:  # one type per column, or the proxy cannot order them
                return float("-inf") if col.align_right else ""
            return value
        if role == ROW_ROLE:
            return row
        if role == KEY_ROLE:
            return None if self.key is None else self.key(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            return col.tooltip(row) if col.tooltip else _text(col.display(row)) or None
        if role == Qt.ItemDataRole.TextAlignmentRole and col.align_right:
            return int(RIGHT)
        if role == Qt.ItemDataRole.ForegroundRole and col.colour is not None:
            return col.colour(row)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.columns[section].tip or None
        return None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def sorted_proxy(model: RowsModel, parent: QObject | None = None) -> QSortFilterProxyModel:
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    return proxy


def sorted_view(model: RowsModel, *, sort_column: int = 0,
                order: Qt.SortOrder = Qt.SortOrder.AscendingOrder,
                filter_column: int = -1) -> tuple[QTableView, QSortFilterProxyModel]:
    """A read-only, row-selecting table over `model` through a sorting, filtering proxy."""
    proxy = sorted_proxy(model, model)
    proxy.setFilterKeyColumn(filter_column)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    view = QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(sort_column, order)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.horizontalHeader().setHighlightSections(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.setWordWrap(False)
    return view, proxy


def fit_columns(view: QTableView, *, stretch: int) -> None:
    """Columns as wide as their contents once (not re-measured at every change, which reads
    every cell), one (the name) taking the rest; set again after each model reset, which
    forgets per-section modes."""
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.resizeColumnsToContents()
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)


def selected_keys(view: QTableView) -> list:
    return [i.data(KEY_ROLE) for i in view.selectionModel().selectedRows()]


@contextmanager
def keep_view(view: QTableView) -> Iterator[None]:
    """Around a model refresh: the rows selected before (by key) stay selected, the current
    row stays current and the scroll position stays where the user left it."""
    keys = set(selected_keys(view))
    current = view.currentIndex().data(KEY_ROLE) if view.currentIndex().isValid() else None
    bar = view.verticalScrollBar()
    scroll = bar.value()
    yield
    model, selection = view.model(), QItemSelection()
    for r in range(model.rowCount()):
        row_key = model.index(r, 0).data(KEY_ROLE)
        if row_key in keys:
            selection.select(model.index(r, 0), model.index(r, model.columnCount() - 1))
        if row_key == current and current is not None:
            view.selectionModel().setCurrentIndex(model.index(r, 0),
                                                  QItemSelectionModel.SelectionFlag.NoUpdate)
    view.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    bar.setValue(scroll)
