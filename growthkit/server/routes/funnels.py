"""Funnels: ordered steps and conversion."""

from fastapi import APIRouter

router = APIRouter(tags=["analytics"])
