"""Server configuration from flags and GROWTHKIT_* environment variables."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Key rotations and app setting changes reach every server process within this many seconds
# (the app-key cache may not keep an answer longer; docs/operations.md).
MAX_APP_CACHE_SECONDS = 1.0


def default_database_url() -> str:
    return f"sqlite:///{Path(user_data_dir('growthkit')) / 'growthkit.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GROWTHKIT_", extra="ignore")

    database_url: str = default_database_url()
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # How long a write may wait for the store's lock before the request gets a 503.
    write_timeout_ms: int = 5000
    # Most events one group commit writes in a single transaction.
    group_commit_events: int = 5000
    # How long an app looked up by key is reused: key rotations and settings changes made
    # anywhere apply on every process within this bound, so it may not exceed 1 s.
    app_cache_seconds: float = Field(MAX_APP_CACHE_SECONDS, ge=0, le=MAX_APP_CACHE_SECONDS)
    # How long stats/analytics answers are cached per app + query.
    query_cache_seconds: float = Field(5.0, ge=0)
    # A store write running longer than this marks the writer unhealthy: new /track
    # requests get 503 at once, and a queued request is answered 503 after twice this.
    write_stall_seconds: float = 10.0
    log_level: str = "info"
    # Live stream: seconds between heartbeat comments on an idle stream, and how many
    # events a subscriber may fall behind before it is dropped (it resumes by Last-Event-ID).
    stream_heartbeat_seconds: float = 15.0
    stream_queue_size: int = 10_000
