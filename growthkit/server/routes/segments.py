"""Behavioural segments of leads."""

from fastapi import APIRouter

router = APIRouter(tags=["analytics"])
