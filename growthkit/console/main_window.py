"""The main window: docks from the registry, their loads on workers, layout, status bar."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QToolBar, QWidget

from growthkit.console.dock_frame import DockFrame
from growthkit.console.docks import DockSpec, LoadContext, Refresh
from growthkit.console.live import LiveStream
from growthkit.console.offline_cache import server_away
from growthkit.console.settings import ConsoleSettings
from growthkit.console.workers import WorkerPool
from growthkit.widgets.filters import FilterChips

log = logging.getLogger(__name__)


@dataclass
class Session:
    """What the console is connected to (for the title, status bar and About)."""

    source: Any
    url: str  # server URL, or the snapshot file's path
    app_name: str = ""
    app_id: str = ""
    store: str = ""  # the server's store kind (sqlite, postgresql) or "snapshot"
    server_version: str = ""
    time_zone: str | None = None
    offline: bool = False  # a snapshot or cache: no live stream, no reconnects
    app: dict = field(default_factory=dict)


@dataclass
class Dock:
    spec: DockSpec
    widget: QWidget
    frame: DockFrame
    dock: QDockWidget
    generation: int = 0  # answers of older loads are dropped when a newer one is running
    answered: int = 0  # loads that came back (with data, nothing to show, or an error)


def error_text(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


class MainWindow(QMainWindow):
    """Every dock of `specs` around the shared filter; each loads on its own worker."""

    filter_changed = Signal(dict)
    refreshed = Signal()

    def __init__(self, session: Session, specs: list[DockSpec], workers: WorkerPool,
                 settings: ConsoleSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("GrowthKitConsole")
        self.session = session
        self.workers = workers
        self.settings = settings
        self.filter: dict[str, Any] = {}
        self.lead: str | None = None
        self.docks: dict[str, Dock] = {}
        self.last_refresh: dt.datetime | None = None
        self.connection_state = "offline" if session.offline else "connected"
        self._closing = False
        self.setWindowTitle(self._title())
        self.setDockNestingEnabled(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowNestedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks)
        self.resize(1600, 1000)

        self.chips = FilterChips(self)
        self.chips.filter_changed.connect(self.set_filter)
        bar = QToolBar("Active filter", self)
        bar.setObjectName("activeFilterBar")
        bar.setMovable(False)
        bar.addWidget(self.chips)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)

        self._build_docks(specs)
        self._build_menus()
        self._build_status_bar()
        self.default_state = self.saveState(self._layout_version())

        self.refresh_timer = QTimer(self)
        self.refresh_timer.timeout.connect(lambda: self.reload(Refresh.LIVE))
        self.set_refresh_seconds(settings.refresh_seconds)

        self.cache: Any = None  # the LocalCache, once opened and synced on a worker
        self.fallback: Any = None  # a LocalSource on it: answers while the server is away
        self._syncing = False
        self.stream: LiveStream | None = None
        if not session.offline:
            self.stream = LiveStream(session.source, workers, self)
            self.stream.events.connect(self._on_events)
            self.stream.state.connect(self._on_stream_state)

    # -- building
    def _title(self) -> str:
        s = self.session
        where = s.url if s.offline else s.url.split("://", 1)[-1].rstrip("/")
        app = s.app_name or s.app_id or "app"
        kind = "snapshot" if s.offline else "server"
        return f"GrowthKit Console — {app} on {kind} {where}"

    @staticmethod
    def _layout_version() -> int:
        from growthkit.console.settings import LAYOUT_VERSION
        return LAYOUT_VERSION

    def _build_docks(self, specs: list[DockSpec]) -> None:
        for spec in specs:
            widget = spec.widget()
            name = widget.objectName()
            if not name or name in self.docks:
                raise ValueError(f"dock widget {spec.widget.__name__} needs a unique objectName")
            frame = DockFrame(widget)
            dock = QDockWidget(getattr(widget, "title", name), self)
            dock.setObjectName(name)
            dock.setWidget(frame)
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                             | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                             | QDockWidget.DockWidgetFeature.DockWidgetClosable)
            target = self.docks.get(spec.tab_with) if spec.tab_with else None
            beside = self.docks.get(spec.split_from) if spec.split_from else None
            if target is not None:
                self.tabifyDockWidget(target.dock, dock)
            elif beside is not None:
                self.splitDockWidget(beside.dock, dock, spec.split)
            else:
                self.addDockWidget(spec.area, dock)
            dock.setVisible(spec.visible)
            self.docks[name] = Dock(spec, widget, frame, dock)
            self._connect_intents(widget)
            if hasattr(widget, "params_changed"):  # its own options: reload this dock alone
                widget.params_changed.connect(
                    lambda _params, d=self.docks[name]: self._load(d, self.context()))
        for d in self.docks.values():  # after every dock exists: handlers may reach others
            if d.spec.connect is not None:
                d.spec.connect(self, d.widget)

    def _connect_intents(self, widget: QWidget) -> None:
        if hasattr(widget, "filter_requested"):
            widget.filter_requested.connect(self.merge_filter)
        if hasattr(widget, "filter_changed"):
            widget.filter_changed.connect(self.set_filter)
        if hasattr(widget, "lead_requested"):
            widget.lead_requested.connect(self.pick_lead)
        if hasattr(widget, "time_zone_changed"):
            widget.time_zone_changed.connect(self.set_time_zone)
        if hasattr(widget, "columns_changed"):
            widget.columns_changed.connect(self._save_feed_columns)
        if hasattr(widget, "set_property_columns"):
            widget.set_property_columns(self.settings.feed_columns)

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.settings_action = file_menu.addAction("&Settings…")
        self.settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit")
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)

        view = menu.addMenu("&View")
        self.view_menu = view
        self.refresh_action = view.addAction("&Refresh now")
        self.refresh_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.refresh_action.triggered.connect(lambda: self.reload(None))
        self.search_action = view.addAction("&Search…")
        self.search_action.setShortcut(QKeySequence.StandardKey.Find)
        self.search_action.triggered.connect(self.focus_search)
        self.pause_action = view.addAction("&Pause live feed")
        self.pause_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.pause_action.triggered.connect(self.toggle_pause)
        view.addSeparator()
        for index, d in enumerate(self.docks.values(), start=1):
            action = d.dock.toggleViewAction()
            view.addAction(action)
            if index <= 9:
                focus = QAction(f"Focus {d.dock.windowTitle()}", self)
                focus.setShortcut(QKeySequence(f"Ctrl+{index}"))
                focus.triggered.connect(lambda _=False, dock=d.dock: self.focus_dock(dock))
                self.addAction(focus)
        view.addSeparator()
        reset = view.addAction("Reset &layout")
        reset.triggered.connect(self.reset_layout)
        self.theme_menu = view.addMenu("&Theme")

        self.help_menu = menu.addMenu("&Help")

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.connection_label = QLabel(self)
        self.connection_label.setObjectName("connectionState")
        self.connection_label.setTextFormat(Qt.TextFormat.PlainText)
        self.store_label = QLabel(self)
        self.store_label.setObjectName("storeKind")
        self.refresh_label = QLabel("not refreshed yet", self)
        self.refresh_label.setObjectName("lastRefresh")
        bar.addPermanentWidget(self.connection_label)
        bar.addPermanentWidget(self.store_label)
        bar.addPermanentWidget(self.refresh_label)
        self.store_label.setText(f"store: {self.store_kind()}")
        self._show_connection()

    def store_kind(self) -> str:
        """Where the data shown comes from: the server (and its database, when it says),
        an offline snapshot, or the local cache while the server is away."""
        if self.session.offline:
            return "offline snapshot"
        if self.connection_state == "offline" and self.fallback is not None:
            return "local cache (server away)"
        kind = f"server ({self.session.store})" if self.session.store else "server"
        return kind

    def _show_connection(self, detail: str = "") -> None:
        text = {"connected": "● connected", "live": "● live", "connecting": "◌ connecting…",
                "offline": "○ offline", "unsupported": "● connected (no live stream)"}.get(
            self.connection_state, self.connection_state)
        if self.session.offline:
            text = "○ offline snapshot"
        self.connection_label.setText(text)
        self.connection_label.setToolTip(detail)

    # -- layout
    def restore_layout(self) -> bool:
        """Restore the saved layout (call after show()); False: the default was kept."""
        saved = self.settings.layout()
        if saved is None:
            return False
        geometry, state = saved
        self.restoreGeometry(geometry)
        if not self.restoreState(state, self._layout_version()):
            log.warning("saved console layout could not be read; using the default")
            self.restoreState(self.default_state, self._layout_version())
            return False
        return True

    def save_layout(self) -> None:
        self.settings.save_layout(self.saveGeometry(), self.saveState(self._layout_version()))
        self.settings.sync()

    def reset_layout(self) -> None:
        for d in self.docks.values():
            d.dock.setFloating(False)
        self.restoreState(self.default_state, self._layout_version())
        for d in self.docks.values():
            d.dock.setVisible(True)
        self.apply_default_sizes()

    def apply_default_sizes(self) -> None:
        """The specs' default widths and heights (call once the window is shown)."""
        for attr, orientation in (("width", Qt.Orientation.Horizontal),
                                  ("height", Qt.Orientation.Vertical)):
            pairs = [(d.dock, getattr(d.spec, attr)) for d in self.docks.values()
                     if getattr(d.spec, attr) and not d.spec.tab_with]
            if pairs:
                self.resizeDocks([p[0] for p in pairs], [p[1] for p in pairs], orientation)
        # The first dock of each tab group is the one showing.
        for d in self.docks.values():
            root = d
            while root.spec.tab_with and root.spec.tab_with in self.docks:
                root = self.docks[root.spec.tab_with]
            if root is not d:
                root.dock.raise_()

    def focus_dock(self, dock: QDockWidget) -> None:
        dock.setVisible(True)
        dock.raise_()
        dock.widget().setFocus(Qt.FocusReason.ShortcutFocusReason)

    # -- loading
    def start(self) -> None:
        """Load every dock once and start the live stream (after the feed's first page)."""
        self.reload(None)

    def set_refresh_seconds(self, seconds: int) -> None:
        self.refresh_timer.start(max(5, int(seconds)) * 1000)

    def context(self) -> LoadContext:
        return LoadContext(dict(self.filter), self.lead, self.session.time_zone)

    def reload(self, which: Refresh | None, *, lead: bool = False) -> None:
        """Reload docks: `None` every dock (F5, connect); LIVE the timed ones; FILTER the
        ones that follow the filter; `lead=True` the ones that follow the picked lead."""
        if self._closing:
            return
        if which is None and not lead:
            self.last_refresh = dt.datetime.now(dt.UTC)
            self.refresh_label.setText("refreshed " + self.last_refresh.astimezone()
                                       .strftime("%H:%M:%S"))
        ctx = self.context()
        for d in self.docks.values():
            spec = d.spec
            if spec.load is None:
                continue
            if self._wanted(spec, which, lead):
                self._load(d, ctx)
        if which in (None, Refresh.LIVE) and not lead:
            self.sync_cache()
        if which is Refresh.LIVE:
            self.last_refresh = dt.datetime.now(dt.UTC)
            self.refresh_label.setText("refreshed " + self.last_refresh.astimezone()
                                       .strftime("%H:%M:%S"))
        self.refreshed.emit()

    # -- the local cache
    def set_cache(self, opened: tuple[Any, Any]) -> None:
        self.cache, self.fallback = opened

    def sync_cache(self) -> None:
        """Fetch what is new into the cache (on a worker; one sync at a time)."""
        if self.cache is None or self._syncing or self.connection_state == "offline":
            return
        self._syncing = True

        def done(_: Any = None) -> None:
            self._syncing = False

        self.workers.submit(self.cache.sync, done, done)

    @staticmethod
    def _wanted(spec: DockSpec, which: Refresh | None, lead: bool) -> bool:
        if lead:
            return spec.follows_lead
        if which is Refresh.LIVE:
            return spec.refresh is Refresh.LIVE
        if which is Refresh.FILTER:
            return spec.refresh is not Refresh.ONCE
        return True

    def set_time_zone(self, name: str) -> None:
        """Bucket every chart in this IANA zone from now on (a dock asked for it)."""
        self.session.time_zone = name
        self.reload(Refresh.FILTER)

    def _load(self, d: Dock, ctx: LoadContext) -> None:
        if hasattr(d.widget, "query_params"):
            ctx = dataclasses.replace(ctx, params=d.widget.query_params())
        d.generation += 1
        generation = d.generation
        d.frame.set_busy(True)
        source, load, fallback = self.session.source, d.spec.load, self.fallback

        def run() -> tuple[Any, bool]:
            try:
                return load(source, ctx), False
            except Exception as exc:  # server away: answer from the local cache if there is one
                if fallback is None or not server_away(exc):
                    raise
                return load(fallback, ctx), True

        self.workers.submit(run, lambda answer: self._loaded(d, generation, *answer),
                            lambda exc: self._failed(d, generation, exc))

    def _loaded(self, d: Dock, generation: int, data: Any, cached: bool = False) -> None:
        if self._closing or generation != d.generation:
            return
        d.answered += 1
        d.frame.set_busy(False)
        if data is None:
            return
        try:
            d.widget.show_data(data)
        except Exception as exc:  # malformed answer: say so in the dock, keep the window
            log.exception("dock %s could not show its data", d.dock.objectName())
            d.frame.set_error(f"could not show this answer: {error_text(exc)}")
            return
        d.frame.mark_refreshed(note="from the local cache (server away)" if cached else "")
        if d.dock.objectName() == "liveFeed" and not cached:
            self._start_stream(data)

    def _failed(self, d: Dock, generation: int, exc: BaseException) -> None:
        if self._closing or generation != d.generation:
            return
        d.answered += 1
        d.frame.set_busy(False)
        message = error_text(exc)
        d.frame.set_error(message)
        self.statusBar().showMessage(f"{d.dock.windowTitle()}: {message}", 10000)

    # -- filter and lead
    def set_filter(self, flt: dict) -> None:
        clean = {k: v for k, v in flt.items() if v not in (None, [], "", {})}
        if clean == self.filter:
            return
        self.filter = clean
        self.chips.set_filter(clean)
        for d in self.docks.values():
            if hasattr(d.widget, "set_filter"):
                d.widget.set_filter(clean)
        self.filter_changed.emit(clean)
        self.reload(Refresh.FILTER)

    def merge_filter(self, partial: dict) -> None:
        self.set_filter({**self.filter, **partial})

    def pick_lead(self, fingerprint: str) -> None:
        self.lead = fingerprint
        for d in self.docks.values():
            if d.spec.follows_lead:
                d.dock.setVisible(True)
                d.dock.raise_()
        self.reload(None, lead=True)

    # -- live feed
    def feed(self) -> QWidget | None:
        d = self.docks.get("liveFeed")
        return d.widget if d else None

    def _start_stream(self, data: dict) -> None:
        if self.stream is None or self.stream.running:
            return
        seqs = [a.get("seq") for a in data.get("data", []) if isinstance(a.get("seq"), int)]
        self.stream.start(max(seqs) if seqs else None)

    def _on_events(self, events: list) -> None:
        feed = self.feed()
        if feed is not None:
            feed.add_events(events)
        d = self.docks.get("liveFeed")
        if d is not None and events:  # "updated" dates from the last streamed row
            d.frame.mark_refreshed()

    def _on_stream_state(self, state: str, message: str) -> None:
        was = self.connection_state
        self.connection_state = state
        self._show_connection(message)
        self.store_label.setText(f"store: {self.store_kind()}")
        if state == "offline":
            self.statusBar().showMessage(
                f"Server unreachable — showing what was loaded; reconnecting… ({message})")
            feed = self.feed()
            if feed is not None and hasattr(feed, "set_offline"):
                feed.set_offline(True)
        elif state == "live":
            if was == "offline":
                self.statusBar().showMessage("Reconnected: live feed resumed", 5000)
                self.reload(None)
            feed = self.feed()
            if feed is not None and hasattr(feed, "set_offline"):
                feed.set_offline(False)

    def toggle_pause(self) -> None:
        feed = self.feed()
        if feed is not None and hasattr(feed, "toggle_pause"):
            feed.toggle_pause()

    def focus_search(self) -> None:
        d = self.docks.get("filters")
        if d is not None:
            self.focus_dock(d.dock)
            d.widget.focus_search()

    def _save_feed_columns(self, columns: list) -> None:
        self.settings.feed_columns = list(columns)

    # -- closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.save_layout()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        if self._closing:
            return
        self._closing = True
        self.refresh_timer.stop()
        if self.stream is not None:
            self.stream.stop()

    def show_error(self, title: str, message: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, parent=self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.open()
