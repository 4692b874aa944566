"""Credits: the ledger, spends and completed actions."""

from fastapi import APIRouter

router = APIRouter(tags=["credits"])
