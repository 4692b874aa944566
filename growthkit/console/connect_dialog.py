"""The connection dialog: server URL, secret key, saved profiles; connects on a worker."""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from growthkit.console.connection import ConnectionFailed, classify, open_server
from growthkit.console.keystore import KeyStore
from growthkit.console.main_window import Session
from growthkit.console.settings import ConsoleSettings, Profile
from growthkit.console.workers import WorkerPool

NEW = "New connection…"
DEFAULT_URL = "http://127.0.0.1:8000"  # `growthkit serve`'s default address


class ConnectionDialog(QDialog):
    """Asks for a server and key; `session` is set when it accepts."""

    def __init__(self, settings: ConsoleSettings, keys: KeyStore, workers: WorkerPool, *,
                 url: str = "", key: str = "", app: str = "", message: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionDialog")
        self.setWindowTitle("Connect to a GrowthKit server")
        self.settings, self.keys, self.workers = settings, keys, workers
        self.app = app
        self.session: Session | None = None
        self.failure: ConnectionFailed | None = None
        self._profiles = {p.name: p for p in settings.profiles()}

        self.profile = QComboBox(self)
        self.profile.setObjectName("profile")
        self.profile.addItems([*self._profiles, NEW])
        # A new console starts on the local server's address.
        self.url = QLineEdit(url or DEFAULT_URL, self)
        self.url.setObjectName("url")
        self.key = QLineEdit(key, self, placeholderText="sk_…")
        self.key.setObjectName("key")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.name = QLineEdit(self, placeholderText="profile name (default: the app's name)")
        self.remember = QCheckBox("Remember the key in the OS keyring", self)
        self.remember.setChecked(keys.usable)
        self.remember.setEnabled(keys.usable)
        self.keyring_note = QLabel("" if keys.usable else keys.reason, self)
        self.keyring_note.setObjectName("keyringNote")
        self.keyring_note.setWordWrap(True)
        self.keyring_note.setVisible(not keys.usable)
        self.message = QLabel(message, self)
        self.message.setObjectName("connectionMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # server text is never markup
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c0392b;")
        self.message.setVisible(bool(message))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.connect_button = self.buttons.addButton("Connect",
                                                     QDialogButtonBox.ButtonRole.AcceptRole)
        self.connect_button.setObjectName("connectButton")
        self.connect_button.setDefault(True)
        self.buttons.accepted.connect(self.try_connect)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Profile", self.profile)
        form.addRow("Server URL", self.url)
        form.addRow("Secret key", self.key)
        form.addRow("Save as", self.name)
        form.addRow("", self.remember)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.keyring_note)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(520)

        self.profile.currentTextChanged.connect(self._pick_profile)
        if not url and self._profiles:
            last = settings.last_profile
            self.profile.setCurrentText(last if last in self._profiles else
                                        next(iter(self._profiles)))
            self._pick_profile(self.profile.currentText())
        elif url:
            self.profile.setCurrentText(NEW)

    def _pick_profile(self, name: str) -> None:
        profile = self._profiles.get(name)
        if profile is None:
            self.name.clear()
            return
        self.url.setText(profile.url)
        self.name.setText(profile.name)
        self.app = self.app or profile.app_id
        self.key.clear()
        self.key.setPlaceholderText("looking in the keyring…")
        user = profile.keyring_user
        self.workers.submit(lambda: self.keys.get(user), self._found_key,
                            lambda exc: self.key.setPlaceholderText("sk_…"))

    def _found_key(self, key: str | None) -> None:
        self.key.setPlaceholderText("sk_…")
        if key and not self.key.text():
            self.key.setText(key)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _busy(self, busy: bool) -> None:
        for w in (self.url, self.key, self.profile, self.name, self.connect_button):
            w.setEnabled(not busy)
        self.connect_button.setText("Connecting…" if busy else "Connect")

    def try_connect(self) -> None:
        url, key, app = self.url.text(), self.key.text(), self.app
        self._busy(True)
        self.show_message("")
        self.workers.submit(lambda: open_server(url, key, app or None), self._connected,
                            self._failed)

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        self.failure = classify(exc, self.key.text().strip())
        self.show_message(self.failure.text())

    def _connected(self, session: Session) -> None:
        self._busy(False)
        self.session = session
        host = urlsplit(session.url).netloc or session.url
        name = self.name.text().strip() or f"{session.app_name or session.app_id} on {host}"
        profile = Profile(name, session.url, session.app_id)
        self.settings.save_profile(profile)
        key = self.key.text().strip()
        if self.remember.isChecked() or not self.keys.usable:
            self.workers.submit(lambda: self.keys.set(profile.keyring_user, key),
                                lambda note: None, lambda exc: None)
        self.accept()
