"""Leads: search, details, history."""

from fastapi import APIRouter

router = APIRouter(tags=["leads"])
