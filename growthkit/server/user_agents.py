"""User-Agent parsing (ua-parser, a server dependency) for core's context enrichment."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse


@lru_cache(maxsize=4096)
def describe_user_agent(user_agent: str) -> tuple[str, str, str]:
    """(browser with major version, OS, device type) for a User-Agent string."""
    result = parse(user_agent)
    ua, os_, device = result.user_agent, result.os, result.device
    browser = ua.family if ua else "Other"
    if ua and ua.major:
        browser = f"{browser} {ua.major}"
    os_name = os_.family if os_ else "Other"
    if os_ and os_.major:
        os_name = f"{os_name} {os_.major}"
    family = (device.family if device else "") or ""
    lowered = user_agent.lower()
    if "ipad" in lowered or "tablet" in lowered or "tablet" in family.lower() or (
            "android" in lowered and "mobile" not in lowered):
        kind = "tablet"
    elif "mobi" in lowered or "iphone" in lowered or (os_ and os_.family in ("iOS", "Android")):
        kind = "mobile"
    else:
        kind = "desktop"
    return browser, os_name, kind
