"""Quick stats for a time range."""

from fastapi import APIRouter

router = APIRouter(tags=["stats"])
