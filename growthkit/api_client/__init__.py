"""The Python client (httpx): query API, live stream, export, and a batching Tracker."""

from growthkit.api_client.client import Client
from growthkit.api_client.errors import (
    AuthError,
    Cancelled,
    Conflict,
    FieldError,
    GrowthKitError,
    NotAGrowthKitServer,
    NotFound,
    RateLimited,
    ServerUnavailable,
    TLSError,
    ValidationError,
)
from growthkit.api_client.frames import to_frame
from growthkit.api_client.listing import Listing
from growthkit.api_client.source import Filters, Source
from growthkit.api_client.stream import LiveStream
from growthkit.api_client.tracker import Tracker

__all__ = [
    "AuthError", "Cancelled", "Client", "Conflict", "FieldError", "Filters", "GrowthKitError",
    "Listing", "LiveStream", "NotAGrowthKitServer", "NotFound", "RateLimited",
    "ServerUnavailable", "Source", "TLSError", "Tracker", "ValidationError", "to_frame",
]
