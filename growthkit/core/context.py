"""Event context: the browser/OS/device fields, filled in from a User-Agent when missing.

The User-Agent parser itself is handed in (the server passes
`growthkit.server.user_agents.describe_user_agent`), so core imports without ua-parser.
"""

from __future__ import annotations

from collections.abc import Callable

# A User-Agent string -> (browser with major version, OS, device type).
DescribeUserAgent = Callable[[str], tuple[str, str, str]]


def enrich(context: dict, header_user_agent: str | None,
           describe: DescribeUserAgent | None = None) -> dict:
    """Fill browser, os and device from the context's userAgent or the request's header
    (derived by `describe`; without one only the userAgent is kept)."""
    user_agent = context.get("userAgent") or header_user_agent
    if user_agent and not context.get("userAgent"):
        context["userAgent"] = user_agent
    if describe and user_agent and not all(context.get(k) for k in ("browser", "os", "device")):
        derived = describe(user_agent[:1000])
        for key, value in zip(("browser", "os", "device"), derived, strict=True):
            if not context.get(key):
                context[key] = value
    return context
