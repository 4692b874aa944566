"""The Activity heatmap dock: day of week × hour of events or users in a named time zone the
user can change, with row and column totals (answers of GET /analytics/heatmap)."""

from __future__ import annotations

import zoneinfo

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QCursor, QFont, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from growthkit.widgets.chart_theme import palette_changed, style_plot, text_label
from growthkit.widgets.formatting import full_number, short_number, span_text

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
METRICS = {"events": "Events", "users": "Users"}
COMMON_ZONES = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York",
                "America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Tokyo",
                "Australia/Sydney"]


class HeatmapWidget(QWidget):
    """show_data(GET /analytics/heatmap answer). Choosing the metric emits params_changed
    ({"metric": …}); choosing a time zone emits time_zone_changed(name): the console
    reloads with them (the widget itself never fetches)."""

    title = "Activity heatmap"
    params_changed = Signal(dict)
    time_zone_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("activityHeatmap")
        self.data: dict = {}
        self.matrix = np.zeros((7, 24))
        self.metric_box = QComboBox()
        for key, label in METRICS.items():
            self.metric_box.addItem(label, key)
        self.metric_box.setToolTip("Count events, or distinct users (fingerprints), per cell")
        self.metric_box.currentIndexChanged.connect(
            lambda _: self.params_changed.emit(self.query_params()))
        self.zone_box = QComboBox()
        self.zone_box.setEditable(True)
        self.zone_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.zone_box.addItems(COMMON_ZONES)
        self.zone_box.setMinimumContentsLength(16)
        # Every IANA name completes, read when the user first edits the zone (listing them
        # walks the tz database on disk: not while the window is being built).
        self.zone_box.lineEdit().textEdited.connect(self._complete_zones)
        self.zone_box.setToolTip("The time zone the cells are counted in (IANA name)")
        self.zone_box.lineEdit().editingFinished.connect(self._zone_chosen)
        self.zone_box.activated.connect(lambda _: self._zone_chosen())
        self.message = text_label()
        self.hover = text_label("Point at a cell for its number", "activityHeatmapHover")

        self.plot = pg.PlotWidget()
        self.plot.setObjectName("activityHeatmapPlot")
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.getViewBox().invertY(True)  # Monday at the top
        self.image = pg.ImageItem(np.zeros((7, 24)), axisOrder="row-major")
        self.image.setRect(QRectF(0, 0, 24, 7))  # cell (hour h, day d) is [h, h+1] x [d, d+1]
        item.addItem(self.image)
        self.colour_bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"),
                                          interactive=False, width=14)
        self.colour_bar.setImageItem(self.image, insert_in=item)
        for side in ("left", "bottom"):  # no tick marks: they would cross the totals
            item.getAxis(side).setStyle(tickLength=0)
        item.getAxis("left").setTicks([[(d + 0.5, DAYS[d][:3]) for d in range(7)], []])
        item.getAxis("bottom").setTicks([[(h + 0.5, f"{h:02d}") for h in range(0, 24, 2)],
                                         [(h + 0.5, f"{h:02d}") for h in range(24)]])
        small = QFont(self.font())
        small.setPointSizeF(small.pointSizeF() * 0.85)
        self.row_totals = [self._text(24.25, d + 0.5, (0, 0.5), small) for d in range(7)]
        self.col_totals = [self._text(h + 0.5, 7.1, (0.5, 0), small) for h in range(24)]
        self.total_caption = self._text(24.25, 7.1, (0, 0), small)
        self.total_caption.setText("total")
        item.setXRange(0, 26.2, padding=0)
        item.setYRange(0, 8.0, padding=0)  # room for the totals row above the axis
        self.plot.scene().sigMouseMoved.connect(self._hover)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Show"))
        controls.addWidget(self.metric_box)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Time zone"))
        controls.addWidget(self.zone_box)
        controls.addWidget(self.message, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.hover)
        self._restyle()

    def _text(self, x: float, y: float, anchor: tuple, font: QFont) -> pg.TextItem:
        t = pg.TextItem("", anchor=anchor)
        t.setFont(font)
        t.setPos(x, y)
        self.plot.getPlotItem().addItem(t, ignoreBounds=True)
        return t

    def changeEvent(self, event) -> None:  # noqa: ANN001, N802 (Qt's name)
        super().changeEvent(event)
        if palette_changed(event):
            self._restyle()

    def _restyle(self) -> None:
        style_plot(self.plot, self.palette())
        text = self.palette().color(QPalette.ColorRole.Text)
        for t in (*self.row_totals, *self.col_totals, self.total_caption):
            t.setColor(text)
        self.colour_bar.axis.setTextPen(pg.mkPen(text))
        self.colour_bar.axis.setPen(pg.mkPen(text))

    def _complete_zones(self) -> None:
        if self.zone_box.completer() is not None and self.zone_box.completer().model() \
                .rowCount() > len(COMMON_ZONES):
            return
        completer = QCompleter(sorted(zoneinfo.available_timezones()), self.zone_box)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.zone_box.setCompleter(completer)
        completer.complete()

    def query_params(self) -> dict:
        return {"metric": self.metric_box.currentData()}

    def time_zone(self) -> str:
        return self.zone_box.currentText().strip()

    def _zone_chosen(self) -> None:
        name = self.time_zone()
        if name == self.data.get("timeZone"):
            self.message.setText("")
            return
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.message.setText(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin)")
            return
        self.message.setText(f"counting in {name}…")
        self.time_zone_changed.emit(name)

    def show_data(self, data: dict) -> None:
        self.data = data
        self.matrix = np.asarray(data.get("matrix") or np.zeros((7, 24)), dtype=np.float64)
        metric, tz = data.get("metric", "events"), data.get("timeZone", "UTC")
        # Show what the answer used, without asking for another reload.
        for box in (self.metric_box, self.zone_box):
            box.blockSignals(True)
        self.metric_box.setCurrentIndex(max(0, self.metric_box.findData(metric)))
        self.zone_box.setCurrentText(tz)
        for box in (self.metric_box, self.zone_box):
            box.blockSignals(False)
        self.message.setText("" if data.get("complete", True) else
                             "users of rolled-up days are not counted (past retention)")
        top = float(self.matrix.max()) if self.matrix.size else 0.0
        self.image.setImage(self.matrix, autoLevels=False, levels=(0, max(top, 1)))
        self.image.setRect(QRectF(0, 0, 24, 7))
        self.colour_bar.setLevels((0, max(top, 1)))
        unit = "events" if metric == "events" else "users"
        self.colour_bar.axis.setLabel(f"{unit} per cell")
        for d, t in enumerate(self.row_totals):
            t.setText(short_number(self.matrix[d].sum()))
        for h, t in enumerate(self.col_totals):
            t.setText(short_number(self.matrix[:, h].sum()))
        self._fit_totals()
        item = self.plot.getPlotItem()
        item.setLabel("bottom", f"hour of day ({tz})")
        item.setTitle(f"{METRICS.get(metric, metric)} by weekday and hour · "
                      f"{span_text(data['from'], data['to'], tz)}", size="9pt")
        style_plot(self.plot, self.palette())

    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802 (Qt's name)
        super().resizeEvent(event)
        self._fit_totals()

    def _fit_totals(self) -> None:
        """Column totals where they fit: every hour, or every second one when the cells are
        narrower than '1.2K' (the hover names every total)."""
        vb = self.plot.getPlotItem().getViewBox()
        cell = vb.width() / 26.2 if vb.width() else 40
        widest = max((t.boundingRect().width() for t in self.col_totals), default=0)
        step = 1 if cell >= widest + 2 or not widest else 2
        for h, t in enumerate(self.col_totals):
            t.setVisible(h % step == 0)

    def cell_text(self, day: int, hour: int) -> str:
        metric = self.data.get("metric", "events")
        tz = self.data.get("timeZone", "UTC")
        value = self.matrix[day, hour]
        line = (f"{DAYS[day]} {hour:02d}:00–{(hour + 1) % 24:02d}:00 ({tz}): "
                f"{full_number(value)} {metric}")
        total = self.matrix.sum()
        if metric == "events" and total:
            line += f" ({value / total * 100:.1f}% of {short_number(total)})"
        return (f"{line} · {DAYS[day]}s {full_number(self.matrix[day].sum())} · "
                f"{hour:02d}:00 {full_number(self.matrix[:, hour].sum())}")

    def _hover(self, scene_pos: QPointF) -> None:
        vb = self.plot.getPlotItem().getViewBox()
        if not self.data or not vb.sceneBoundingRect().contains(scene_pos):
            return
        p = vb.mapSceneToView(scene_pos)
        hour, day = int(np.floor(p.x())), int(np.floor(p.y()))
        if 0 <= hour < 24 and 0 <= day < 7:
            text = self.cell_text(day, hour)
            self.hover.setText(text)
            QToolTip.showText(QCursor.pos(), text, self.plot)
