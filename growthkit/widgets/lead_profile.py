"""Lead profile dock: who the lead is (header, email and name editable) above the Timeline,
Sessions, Activity and Credits tabs.

`show_data` takes `{"lead": GET /leads/{fp}, "timeline": …/timeline page, "sessions":
…/sessions page, "credits": …/credits page, "history": {"activities", "days"}}` (any part
may be missing; a bare lead answer is taken as `{"lead": …}`). What the user asks for leaves
as signals carrying the fingerprint: `lead_edited(fp, {email, name})` (the console sends
`update_lead`), `timeline_requested`, `session_requested`, `history_requested`.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import orjson
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from growthkit.widgets.lead_credits import CreditsTab
from growthkit.widgets.lead_history import HistoryTab
from growthkit.widgets.lead_sessions import SessionsTab
from growthkit.widgets.lead_timeline import TimelineTab
from growthkit.widgets.times import local

NUMBERS = ("events", "sessions", "creditBalance")


class LeadHeader(QGroupBox):
    edited = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Lead", parent)
        self.fingerprint = QLabel("—")
        self.fingerprint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.email = QLineEdit(placeholderText="no email")
        self.name = QLineEdit(placeholderText="no name")
        self.save = QPushButton("Save")
        self.save.setEnabled(False)
        self.traits = QLabel()
        self.traits.setWordWrap(True)
        self.values: dict[str, QLabel] = {}
        numbers = QGridLayout()
        for i, (field, label) in enumerate([("firstSeen", "First seen"),
                                            ("lastSeen", "Last seen"), ("events", "Events"),
                                            ("sessions", "Sessions"),
                                            ("creditBalance", "Credit balance")]):
            value = QLabel("—")
            value.setObjectName(f"lead-{field}")
            self.values[field] = value
            numbers.addWidget(QLabel(label), 0, i)
            numbers.addWidget(value, 1, i)
        form = QFormLayout()
        form.addRow("Fingerprint", self.fingerprint)
        edit = QHBoxLayout()
        edit.addWidget(self.email, 2)
        edit.addWidget(self.name, 1)
        edit.addWidget(self.save)
        form.addRow("Email / name", edit)
        form.addRow("Traits", self.traits)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(numbers)
        self.shown: dict = {}
        self.email.textChanged.connect(self._dirty)
        self.name.textChanged.connect(self._dirty)
        self.email.returnPressed.connect(self._save)
        self.name.returnPressed.connect(self._save)
        self.save.clicked.connect(self._save)

    def show_lead(self, lead: dict, tz: ZoneInfo | None) -> None:
        self.shown = lead
        self.fingerprint.setText(lead["fingerprint"])
        self.email.setText(lead.get("email") or "")
        self.name.setText(lead.get("name") or "")
        traits = lead.get("traits") or {}
        self.traits.setText(orjson.dumps(traits).decode() if traits else "none")
        for field in ("firstSeen", "lastSeen"):
            self.values[field].setText(local(lead.get(field), tz))
        for field in NUMBERS:
            if field in lead:
                self.values[field].setText(f"{lead[field]:,}")
        self.save.setEnabled(False)

    def changes(self) -> dict:
        out = {}
        for field, edit in (("email", self.email), ("name", self.name)):
            text = edit.text().strip() or None
            if text != (self.shown.get(field) or None):
                out[field] = text
        return out

    def _dirty(self) -> None:
        self.save.setEnabled(bool(self.shown) and bool(self.changes()))

    def _save(self) -> None:
        changes = self.changes()
        if self.shown and changes:
            self.edited.emit(changes)


class LeadProfileWidget(QWidget):
    title = "Lead profile"

    lead_edited = Signal(str, dict)
    timeline_requested = Signal(str, dict)
    session_requested = Signal(str, str)
    history_requested = Signal(str, dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lead_profile")
        self.fingerprint: str | None = None
        self.tz: ZoneInfo | None = None
        self.header = LeadHeader(self)
        self.tabs = QTabWidget()
        self.timeline = TimelineTab()
        self.sessions = SessionsTab()
        self.history = HistoryTab()
        self.credits = CreditsTab()
        for tab, name in ((self.timeline, "Timeline"), (self.sessions, "Sessions"),
                          (self.history, "Activity"), (self.credits, "Credits")):
            self.tabs.addTab(tab, name)
        self.empty = QLabel("Open a lead from the Leads dock (double-click, Enter or Ctrl+L)")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.empty)
        layout.addWidget(self.header)
        layout.addWidget(self.tabs, 1)
        self.header.hide()
        self.tabs.hide()
        self.header.edited.connect(lambda ch: self.fingerprint and
                                   self.lead_edited.emit(self.fingerprint, ch))
        self.timeline.timeline_requested.connect(
            lambda q: self.fingerprint and self.timeline_requested.emit(self.fingerprint, q))
        self.sessions.session_requested.connect(
            lambda sid: self.fingerprint and self.session_requested.emit(self.fingerprint, sid))
        self.history.history_requested.connect(
            lambda q: self.fingerprint and self.history_requested.emit(self.fingerprint, q))

    def set_time_zone(self, tz: ZoneInfo | None) -> None:
        self.tz = tz
        self.timeline.set_time_zone(tz)
        self.sessions.tz = self.history.tz = self.credits.tz = tz

    def show_data(self, data: dict) -> None:
        if "fingerprint" in data:
            data = {"lead": data}
        lead = data.get("lead")
        if lead:
            changed = lead["fingerprint"] != self.fingerprint
            self.fingerprint = lead["fingerprint"]
            self.empty.hide()
            self.header.show()
            self.tabs.show()
            self.header.show_lead(lead, self.tz)
            self.history.show_patterns(lead)
            if changed:
                # Another lead: its first timeline page is unfiltered, so are the controls.
                self.timeline.reset_filters()
                if "history" not in data:
                    self.history.reload()  # its history in the chosen range
        if "timeline" in data:
            self.timeline.show_page(data["timeline"])
        if "sessions" in data:
            self.sessions.show_sessions(data["sessions"])
        if "credits" in data:
            self.credits.show_credits(data["credits"])
            if lead is None:
                self.header.values["creditBalance"].setText(f"{data['credits']['balance']:,}")
        if "history" in data:
            self.history.show_history(data["history"])

    # Answers to the tabs' own requests.
    def show_timeline(self, page: dict, append: bool = False) -> None:
        self.timeline.show_page(page, append)

    def show_session_events(self, page: dict) -> None:
        self.sessions.show_session_events(page)

    def show_history(self, data: dict, append: bool = False) -> None:
        self.history.show_history(data, append)

    def header_numbers(self) -> dict[str, str]:
        return {field: label.text() for field, label in self.header.values.items()}
