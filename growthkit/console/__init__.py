"""The desktop console shell: connection, main window, docks, workers, settings, tray.

Adding a dock
-------------
Every dock is one `DockSpec` in `growthkit/console/dock_specs.py` (`default_docks()`, in
default order). A spec names

- `widget`: a `QWidget` subclass from `growthkit/widgets/<module>.py` with a unique
  `objectName` (set in `__init__`; it keys the saved layout), a class attribute `title`
  (the dock's title and its View-menu entry) and `show_data(data: dict)`;
- `load(source, ctx) -> dict | None`: runs on a worker thread, never on the GUI thread.
  `source` is the one `Source` (a `Client` or a `LocalSource`); `ctx` is a `LoadContext`
  with `filter` (the shared filter, client keyword names: `event`, `start`, `end`,
  `where`, `search`, `fingerprint`, plus a rolling `preset`), `lead` (the fingerprint a
  widget last asked for) and `time_zone` (the app's). `ctx.kwargs()` turns the filter
  into the client's keywords (a preset becomes `start`). Helpers in `docks.py`:
  `result("stats")` calls `source.stats(**filter).to_json()` (adding `tz` for stats,
  event_frequency and heatmap) and `listing("leads", limit=200)` answers
  `{"data": [item.to_json(), ...]}`. Answer None to leave the widget as it is;
- `refresh`: `Refresh.LIVE` (on connect, every filter change and every refresh interval,
  30 s by default), `Refresh.FILTER` (connect and filter changes) or `Refresh.ONCE`
  (connect only); F5 reloads every dock;
- `area`, `tab_with` (objectName of a dock to share a tab stack with), `visible`, and
  `follows_lead` (reload when a widget emits `lead_requested(fingerprint)`);
- `connect(window, widget)`: for a widget with requests of its own (a search as you type,
  the next page, a drill-down), called once every dock exists; it connects the widget's
  signals to calls run on `window.workers` (see `lead_docks.py`).

The shell wraps each widget in a `DockFrame` (busy bar, error text, "updated N s ago"),
so widgets show none of that. A load's answer goes to `show_data` on the GUI thread; an
older answer arriving after a newer request is dropped. A widget's intents are Qt signals
the shell connects when present: `filter_requested(dict)` (a partial filter merged into
the shared one, e.g. `{"event": ["signup_completed"]}`), `filter_changed(dict)` (a whole
new filter), `lead_requested(str)`. A widget with `set_filter(dict)` is told of every
filter change (for views filtering rows they already hold). `show_data` must update in
place (keep zoom, selection and scroll) so a refresh does not flicker.

Charts read the application property `darkTheme` (bool) for their colours.
"""
