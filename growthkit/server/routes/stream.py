"""Live stream of newly stored activities (server-sent events)."""

from fastapi import APIRouter

router = APIRouter(tags=["stream"])
