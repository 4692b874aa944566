"""Analytics: event frequency, heatmap, funnels, segments."""

from fastapi import APIRouter

router = APIRouter(tags=["analytics"])
