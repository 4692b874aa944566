"""The browser tracker files served at /sdk/."""

from fastapi import APIRouter

router = APIRouter(tags=["sdk"])
