"""The unified timeline of a lead: events and credit operations."""

from fastapi import APIRouter

router = APIRouter(tags=["timeline"])
