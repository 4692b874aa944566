"""The Event frequency dock: the most common events as bars (the rest as "other") and their
counts over time (answers of GET /analytics/events). Clicking a bar filters by its event."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QCursor, QFontMetrics, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QSplitter,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from growthkit.widgets.chart_theme import (
    palette_changed,
    series_colour,
    style_plot,
    text_label,
)
from growthkit.widgets.formatting import (
    change_text,
    full_number,
    local_time,
    parse_instant,
    span_text,
    zone,
)

OTHER = "other"
SERIES_SHOWN = 5  # curves besides the total: a few, not hundreds
INTERVALS = {"hour": "hour", "day": "day", "week": "week"}
BUCKET_FORMAT = {"hour": "%a %-d %b %H:%M", "day": "%a %-d %b", "week": "week of %-d %b"}


def _label(name: str, width: int = 22) -> str:
    return name if len(name) <= width else name[:width - 1] + "…"


class EventFrequencyWidget(QWidget):
    """show_data(GET /analytics/events answer). `query_params()` are the dock's own query
    options (interval, how many series); `params_changed` asks the console to reload."""

    title = "Event frequency"
    filter_requested = Signal(dict)
    params_changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("eventFrequency")
        self.data: dict = {}
        self.bars: list[dict] = []  # top to bottom: {"eventName", "count", "share", ...}
        self.top_n = QSpinBox()
        self.top_n.setRange(1, 20)
        self.top_n.setValue(8)
        self.top_n.setPrefix("top ")
        self.top_n.setToolTip("How many events get a bar; the rest are summed as 'other'")
        self.top_n.valueChanged.connect(self._draw_bars)
        self.interval = QComboBox()
        self.interval.addItems(list(INTERVALS))
        self.interval.setCurrentText("day")
        self.interval.setToolTip("Bucket size of the time series")
        self.interval.currentTextChanged.connect(
            lambda _: self.params_changed.emit(self.query_params()))
        self.hover = text_label("Point at a bar or the curve for its numbers; click a bar to "
                                "filter by that event", "eventFrequencyHover")
        self.range_label = text_label()

        self.bar_plot = pg.PlotWidget()
        self.bar_plot.setObjectName("eventFrequencyBars")
        bp = self.bar_plot.getPlotItem()
        bp.setMenuEnabled(False)
        bp.setMouseEnabled(x=False, y=False)
        bp.hideButtons()
        bp.setLabel("bottom", "events")
        bp.showGrid(x=True, y=False, alpha=0.25)
        self.bar_item = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], pen=pg.mkPen(None))
        bp.addItem(self.bar_item)
        self.bar_plot.scene().sigMouseMoved.connect(self._hover_bars)
        self.bar_plot.scene().sigMouseClicked.connect(self._click_bars)

        self.date_axis = pg.DateAxisItem(orientation="bottom", utcOffset=0)
        self.series_plot = pg.PlotWidget(axisItems={"bottom": self.date_axis})
        self.series_plot.setObjectName("eventFrequencySeries")
        sp = self.series_plot.getPlotItem()
        sp.showGrid(x=True, y=True, alpha=0.25)
        sp.setClipToView(True)
        sp.setDownsampling(auto=True, mode="peak")
        sp.setMouseEnabled(x=True, y=False)
        self.legend = sp.addLegend(offset=(10, 5), labelTextSize="8pt")
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.cursor.setVisible(False)
        sp.addItem(self.cursor, ignoreBounds=True)
        self.series_plot.scene().sigMouseMoved.connect(self._hover_series)
        self.x = np.zeros(0)

        controls = QHBoxLayout()
        controls.addWidget(self.range_label, 1)
        controls.addWidget(QLabel("Series per"))
        controls.addWidget(self.interval)
        controls.addWidget(self.top_n)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.bar_plot)
        split.addWidget(self.series_plot)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        layout.addWidget(split, 1)
        layout.addWidget(self.hover)
        self._restyle()

    def query_params(self) -> dict:
        return {"interval": self.interval.currentText()}

    def changeEvent(self, event) -> None:  # noqa: ANN001, N802 (Qt's name)
        super().changeEvent(event)
        if palette_changed(event):
            self._restyle()

    def _restyle(self) -> None:
        for plot in (self.bar_plot, self.series_plot):
            style_plot(plot, self.palette())
        text = self.palette().color(QPalette.ColorRole.Text)
        self.cursor.setPen(pg.mkPen(text, width=1, style=Qt.PenStyle.DashLine))
        self.legend.setLabelTextColor(text)
        for _, label in self.legend.items:  # existing labels keep their colour otherwise
            label.setText(label.text, color=text.name())
        if self.data:
            self._draw_series()

    # --- data ------------------------------------------------------------------------

    def show_data(self, data: dict) -> None:
        self.data = data
        if data.get("interval") in INTERVALS and data["interval"] != self.interval.currentText():
            self.interval.blockSignals(True)
            self.interval.setCurrentText(data["interval"])
            self.interval.blockSignals(False)
        tz = data.get("timeZone")
        self.range_label.setText(f"{full_number(data.get('total', 0))} events · "
                                 f"{change_text(data.get('change'), data.get('previousTotal'))}"
                                 f" vs previous · {span_text(data['from'], data['to'], tz)}")
        self._draw_bars()
        self._draw_series()

    def _draw_bars(self) -> None:
        ranked = [e for e in self.data.get("events", []) if e.get("count", 0) > 0]
        top = ranked[:self.top_n.value()]
        rest = sum(e["count"] for e in ranked[len(top):])
        total = self.data.get("total", 0) or 1
        self.bars = [*top, *([{"eventName": OTHER, "count": rest, "share": rest / total,
                                "other": len(ranked) - len(top)}] if rest else [])]
        n = len(self.bars)
        ys = np.arange(n - 1, -1, -1, dtype=float)  # the most frequent at the top
        brushes = [QColor("#999999") if b["eventName"] == OTHER and b.get("other")
                   else QColor(series_colour(0)) for b in self.bars]
        self.bar_item.setOpts(x0=np.zeros(n), y=ys, width=[float(b["count"]) for b in self.bars],
                              height=0.7, brushes=brushes)
        labels = [(float(y), _label(b["eventName"]) if b["eventName"] != OTHER or not
                   b.get("other") else f"other ({b['other']})") for y, b in zip(ys, self.bars,
                                                                                strict=True)]
        left = self.bar_plot.getPlotItem().getAxis("left")
        left.setTicks([labels, []])
        # As wide as the longest name (the axis would only grow after a repaint).
        metrics = QFontMetrics(left.style.get("tickFont") or self.bar_plot.font())
        left.setWidth(max([metrics.horizontalAdvance(t) for _, t in labels] or [0]) + 14)
        bp = self.bar_plot.getPlotItem()
        bp.setYRange(-0.6, max(n, 1) - 0.4, padding=0)
        bp.setXRange(0, max([b["count"] for b in self.bars] or [1]) * 1.05, padding=0)

    def _draw_series(self) -> None:
        data = self.data
        tz = zone(data.get("timeZone"))
        buckets = data.get("buckets") or []
        # Local wall-clock seconds, shown by a UTC date axis: ticks fall on local midnights
        # and hours, across DST changes too.
        self.x = np.array([parse_instant(b).timestamp() + parse_instant(b).astimezone(tz)
                           .utcoffset().total_seconds() for b in buckets], dtype=np.float64)
        interval = data.get("interval", "day")
        sp = self.series_plot.getPlotItem()
        sp.setLabel("left", f"events per {interval}")
        sp.setLabel("bottom", f"time ({data.get('timeZone', 'UTC')})")
        wanted = {"total": np.asarray(data.get("totals") or [], dtype=np.float64)}
        for s in (data.get("series") or [])[:SERIES_SHOWN]:
            wanted[s["eventName"]] = np.asarray(s["counts"], dtype=np.float64)
        for name in [n for n in self.curves if n not in wanted]:
            sp.removeItem(self.curves[name])
            self.legend.removeItem(self.curves.pop(name))
        symbols = len(self.x) <= 60
        text = self.palette().color(QPalette.ColorRole.Text)
        for i, (name, y) in enumerate(wanted.items()):
            colour = text if name == "total" else QColor(series_colour(i - 1))
            curve = self.curves.get(name)
            if curve is None:
                curve = sp.plot(name=name if name == "total" else _label(name, 28))
                self.curves[name] = curve
            curve.setPen(pg.mkPen(colour, width=1))
            curve.setSymbol("o" if symbols else None)
            curve.setSymbolSize(4)
            curve.setSymbolBrush(colour)
            curve.setSymbolPen(None)
            curve.setData(self.x, y)  # same items: the user's zoom and pan stay

    # --- hover and click -------------------------------------------------------------

    def _bar_at(self, scene_pos: QPointF) -> dict | None:
        vb = self.bar_plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos) or not self.bars:
            return None
        p = vb.mapSceneToView(scene_pos)
        row = len(self.bars) - 1 - round(p.y())
        if 0 <= row < len(self.bars) and abs(p.y() - round(p.y())) <= 0.45:
            return self.bars[row]
        return None

    def bar_text(self, bar: dict) -> str:
        if bar["eventName"] == OTHER and bar.get("other"):
            return (f"other ({bar['other']} event names): {full_number(bar['count'])} events "
                    f"({bar['share'] * 100:.1f}%)")
        return (f"{bar['eventName']}: {full_number(bar['count'])} events "
                f"({bar.get('share', 0) * 100:.1f}%), rank {bar.get('rank')}, "
                f"{change_text(bar.get('change'), bar.get('previousCount'))} vs previous")

    def _hover_bars(self, scene_pos: QPointF) -> None:
        bar = self._bar_at(scene_pos)
        if bar is not None:
            self.hover.setText(self.bar_text(bar))
            QToolTip.showText(QCursor.pos(), self.bar_text(bar), self.bar_plot)

    def _click_bars(self, event) -> None:  # noqa: ANN001
        if event.button() != Qt.MouseButton.LeftButton:
            return
        bar = self._bar_at(event.scenePos())
        if bar is not None and not (bar["eventName"] == OTHER and bar.get("other")):
            self.filter_requested.emit({"event": [bar["eventName"]]})

    def point_text(self, i: int) -> str:
        data = self.data
        fmt = BUCKET_FORMAT.get(data.get("interval", "day"), "%c")
        parts = [f"{local_time(data['buckets'][i], data.get('timeZone'), fmt)}: "
                 f"{full_number(data['totals'][i])} events"]
        for s in (data.get("series") or [])[:SERIES_SHOWN]:
            parts.append(f"{s['eventName']} {full_number(s['counts'][i])}")
        return " · ".join(parts)

    def _hover_series(self, scene_pos: QPointF) -> None:
        vb = self.series_plot.getPlotItem().getViewBox()
        if not len(self.x) or not vb.sceneBoundingRect().contains(scene_pos):
            self.cursor.setVisible(False)
            return
        x = vb.mapSceneToView(scene_pos).x()
        i = int(np.clip(np.searchsorted(self.x, x), 0, len(self.x) - 1))
        if i > 0 and abs(self.x[i - 1] - x) < abs(self.x[i] - x):
            i -= 1
        self.cursor.setPos(self.x[i])
        self.cursor.setVisible(True)
        self.hover.setText(self.point_text(i))
