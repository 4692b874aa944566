"""Activities: list and page through tracked events."""

from fastapi import APIRouter

router = APIRouter(tags=["activities"])
