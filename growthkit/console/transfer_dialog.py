"""Export (CSV, JSON, NDJSON, Parquet of the current filter) and "Save offline snapshot"
(a date range and the filter's event names → a snapshot file), each on a worker with a
progress bar and Cancel. The client writes under a temporary name and renames when done,
so a cancel or an error leaves no file; the dialog then reports the size and row count.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

FORMATS = {"CSV": "csv", "JSON": "json", "NDJSON": "ndjson", "Parquet": "parquet"}


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def count_rows(path: Path, format: str) -> int:
    """Rows in a written export (a header line is not a row)."""
    if format == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if format == "json":
        import orjson

        return len(orjson.loads(path.read_bytes()))
    with path.open("rb") as f:
        lines = sum(1 for line in f if line.strip())
    return max(lines - 1, 0) if format == "csv" else lines


class _Progress(QObject):
    """Made on the GUI thread: the worker's emits arrive there queued."""

    moved = Signal(str, int, object)  # stage, done, total or None


def describe_filter(kwargs: dict[str, Any]) -> str:
    if not kwargs:
        return "everything in the export window (the last 90 days)"
    return "; ".join(f"{k}: {v}" for k, v in kwargs.items())


class TransferDialog(QDialog):
    """`kind` is "export" or "snapshot"; `filter_kwargs` the shared filter as client
    keywords; `workers` the console's pool; `source` the session's source."""

    finished_ok = Signal(dict)  # {"path", "bytes", "rows"}

    def __init__(self, kind: str, source: Any, workers: Any, filter_kwargs: dict[str, Any],
                 parent: QWidget | None = None, directory: str = "") -> None:
        super().__init__(parent)
        self.kind, self.source, self.workers = kind, source, workers
        self.filter = dict(filter_kwargs)
        self.cancel_event = threading.Event()
        self.running = False
        self.result: dict | None = None
        self.setObjectName("exportDialog" if kind == "export" else "snapshotDialog")
        self.setWindowTitle("Export events" if kind == "export" else "Save offline snapshot")
        self.path = QLineEdit()
        self.browse = QPushButton("Choose…")
        self.format = QComboBox()
        self.format.addItems(list(FORMATS))
        today = QDate.currentDate()
        self.start = QDateEdit(today.addDays(-30), calendarPopup=True)
        self.end = QDateEdit(today, calendarPopup=True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.start_btn = self.buttons.addButton("Export" if kind == "export" else "Save",
                                                QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_btn = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_btn = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_btn.hide()
        where = QHBoxLayout()
        where.addWidget(self.path, 1)
        where.addWidget(self.browse)
        form = QFormLayout()
        form.addRow("File", where)
        if kind == "export":
            form.addRow("Format", self.format)
        else:
            span = QHBoxLayout()
            span.addWidget(self.start)
            span.addWidget(QLabel("to"))
            span.addWidget(self.end)
            form.addRow("Days", span)
        shown = ({"event": self.filter["event"]} if kind == "snapshot" and "event" in self.filter
                 else {} if kind == "snapshot" else self.filter)
        form.addRow("Filter", QLabel(describe_filter(shown) if kind == "export" or shown
                                     else "every event of those days"))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        suffix = "snapshot.gksnap" if kind == "snapshot" else "events.csv"
        self.path.setText(str(Path(directory or Path.home()) / f"growthkit-{suffix}"))
        self.signals = _Progress(self)
        self.signals.moved.connect(self._moved)
        self.browse.clicked.connect(self._choose)
        self.format.currentTextChanged.connect(self._format_changed)
        self.start_btn.clicked.connect(self.begin)
        self.cancel_btn.clicked.connect(self.cancel)
        self.close_btn.clicked.connect(self.accept)

    def _choose(self) -> None:
        if self.kind == "export":
            name, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(),
                                                  "CSV (*.csv);;JSON (*.json);;NDJSON "
                                                  "(*.ndjson);;Parquet (*.parquet)")
        else:
            name, _ = QFileDialog.getSaveFileName(self, "Save snapshot as", self.path.text(),
                                                  "GrowthKit snapshot (*.gksnap *.sqlite)")
        if name:
            self.path.setText(name)

    def _format_changed(self, label: str) -> None:
        path = Path(self.path.text())
        self.path.setText(str(path.with_suffix("." + FORMATS[label])))

    def _range(self) -> tuple[str, str]:
        def iso(day: QDate) -> str:
            when = dt.datetime(day.year(), day.month(), day.day()).astimezone()
            return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        return iso(self.start.date()), iso(self.end.date().addDays(1))

    # -- running
    def begin(self) -> None:
        if self.running:
            return
        target = Path(self.path.text()).expanduser()
        if not self.path.text().strip() or target.is_dir():
            self.status.setText("File: choose where to write")
            return
        self.running = True
        self.result = None
        self.cancel_event.clear()
        self.start_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.progress.setRange(0, 0)  # busy until the size is known
        self.status.setText(f"Writing {target.name}…")
        self.workers.submit(lambda: self._work(target), self._done, self._failed)

    def _work(self, target: Path) -> dict:
        emit = self.signals.moved.emit
        if self.kind == "export":
            fmt = FORMATS[self.format.currentText()]
            self.source.export(target, format=fmt, progress=lambda d, t: emit("bytes", d, t),
                               cancel=self.cancel_event, **self.filter)
            rows = count_rows(target, fmt)
        else:
            start, end = self._range()
            info = self.source.snapshot(target, start=start, end=end,
                                        event=self.filter.get("event"),
                                        progress=lambda s, d, t: emit(s, d, t),
                                        cancel=self.cancel_event)
            rows = int(info.activities)
        return {"path": str(target), "bytes": target.stat().st_size, "rows": rows}

    def _moved(self, stage: str, done: int, total: Any) -> None:
        if not self.running:
            return
        if total:
            self.progress.setRange(0, int(total))
            self.progress.setValue(min(int(done), int(total)))
        what = human_size(done) if stage == "bytes" else f"{stage}: {done:,}"
        self.status.setText(f"Writing… {what}")

    def cancel(self) -> None:
        if self.running:
            self.cancel_event.set()
            self.status.setText("Cancelling…")
        else:
            self.reject()

    def _finish(self) -> None:
        self.running = False
        self.start_btn.setEnabled(True)
        self.progress.setRange(0, 1)

    def _done(self, result: dict) -> None:
        self._finish()
        self.result = result
        self.progress.setValue(1)
        what = "events" if self.kind == "export" else "events in the snapshot"
        self.status.setText(f"Wrote {result['rows']:,} {what}, {human_size(result['bytes'])}, "
                            f"to {result['path']}")
        self.cancel_btn.hide()
        self.close_btn.show()
        self.finished_ok.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        self.progress.setValue(0)
        if self.cancel_event.is_set():
            self.status.setText("Cancelled: no file was written")
        else:
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            self.status.setText(f"Failed: {message} (no file was written)")
