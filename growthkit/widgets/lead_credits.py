"""The lead profile's Credits tab: the balance and the ledger (`GET /leads/{fp}/credits`)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from growthkit.widgets.lead_sessions import table
from growthkit.widgets.table_model import Column, RowsModel, key
from growthkit.widgets.times import local


class CreditsTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tz: ZoneInfo | None = None
        self.balance = QLabel("—")
        font = QFont(self.balance.font())
        font.setPointSize(font.pointSize() + 6)
        font.setBold(True)
        self.balance.setFont(font)
        self.ledger = RowsModel([
            Column("Time", lambda r: local(r["timestamp"], self.tz), key("timestamp")),
            Column("Action", key("action")),
            Column("Amount", lambda r: f"{r['amount']:+d}", key("amount"), align_right=True),
            Column("Balance after", key("balanceAfter"), align_right=True),
            Column("Reason", key("reason")),
            Column("Operation id", key("id")),
        ], self)
        self.table = table(self.ledger, self)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.balance)
        layout.addWidget(self.table, 1)

    def show_credits(self, page: dict) -> None:
        """`{balance, data: [operation], nextCursor}`."""
        balance = page.get("balance", 0)
        text = f"Balance: {balance} credits"
        if balance and not page.get("data") and not page.get("nextCursor"):
            # The ledger opens on the first operation; until then the balance is the grant.
            text += " (the app's starting grant: no credit operations yet)"
        self.balance.setText(text)
        self.ledger.set_rows(page.get("data", []))
