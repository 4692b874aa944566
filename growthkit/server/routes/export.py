"""Export of filtered activities as CSV, JSON or NDJSON."""

from fastapi import APIRouter

router = APIRouter(tags=["export"])
