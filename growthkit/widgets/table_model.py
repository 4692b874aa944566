"""A table model over dict rows with declared columns, sortable by raw value behind a
QSortFilterProxyModel; refreshes keep the user's selection and scroll position."""

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
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

SORT_ROLE = Qt.ItemDataRole.UserRole
KEY_ROLE = Qt.ItemDataRole.UserRole + 1
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[dict], Any]  # the raw value (sorting, tests)
    text: Callable[[dict], str] = lambda row: str(row)  # what is shown
    align: Qt.AlignmentFlag | None = None
    colour: Callable[[dict], QColor | None] | None = None
    tip: str = ""


class RowsModel(QAbstractTableModel):
    """Rows are dicts; `key(row)` identifies a row across refreshes. Text is plain text
    (a view shows it literally, never as HTML)."""

    def __init__(self, columns: Sequence[Column], key: Callable[[dict], Any],
                 parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.columns = list(columns)
        self.key = key
        self._rows: list[dict] = []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.columns)

    def rows(self) -> list[dict]:
        return list(self._rows)

    def set_rows(self, rows: Sequence[dict]) -> None:
        """Same keys in the same order: the values change in place (selection and scroll
        untouched); otherwise the model resets (see keep_view)."""
        rows = list(rows)
        if [self.key(r) for r in rows] == [self.key(r) for r in self._rows] and rows:
            self._rows = rows
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(rows) - 1, len(self.columns) - 1))
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = self._rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.text(row)
        if role == SORT_ROLE:
            value = col.value(row)
            return float("-inf") if value is None else value
        if role == KEY_ROLE:
            return self.key(row)
        if role == Qt.ItemDataRole.TextAlignmentRole and col.align is not None:
            return int(col.align)
        if role == Qt.ItemDataRole.ForegroundRole and col.colour is not None:
            return col.colour(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            return col.text(row)
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


def sorted_view(model: RowsModel, *, sort_column: int = 0,
                order: Qt.SortOrder = Qt.SortOrder.AscendingOrder,
                filter_column: int = -1) -> tuple[QTableView, QSortFilterProxyModel]:
    """A read-only, row-selecting table over `model` through a sorting, filtering proxy."""
    proxy = QSortFilterProxyModel(model)
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
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
        key = model.index(r, 0).data(KEY_ROLE)
        if key in keys:
            selection.select(model.index(r, 0), model.index(r, model.columnCount() - 1))
        if key == current and current is not None:
            view.selectionModel().setCurrentIndex(model.index(r, 0),
                                                  QItemSelectionModel.SelectionFlag.NoUpdate)
    view.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    bar.setValue(scroll)
