"""The client's lead sessions and funnel drill-down against the real app: the same answers
as the API, typed, paged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_client import api, shop  # noqa: F401 (the fixture)

from growthkit.api_client import ValidationError

STEPS = ["page_viewed", "signup", ("purchase", {"plan": "pro"})]


def test_lead_sessions(server, shop):  # noqa: F811
    sessions = list(shop.lead_sessions("fp_a"))
    assert [s.session_id for s in sessions] == ["s_fp_a"]
    assert sessions[0].events == 3 and sessions[0].to_json()["durationSeconds"] == 1200.0
    assert sessions[0].to_json() == api(server, shop.app.secret, "/leads/fp_a/sessions")["data"][0]


def test_funnel_leads_and_time_to_convert(shop):  # noqa: F811
    start, end = shop.span
    dropped = shop.funnel_leads(STEPS, window=timedelta(hours=1), step=3, outcome="dropped",
                                start=start, end=end, page_size=1)
    assert [x.fingerprint for x in dropped] == ["fp_b"]
    assert dropped.meta["count"] == 1
    converted = list(shop.funnel_leads(STEPS, window=3600, step=2, start=start, end=end,
                                       page_size=1))
    assert [x.fingerprint for x in converted] == ["fp_a", "fp_b"]
    assert [x.seconds_to_convert for x in converted] == [600.0, 600.0]
    assert converted[0].last_step == 3 and converted[0].entered_at is not None
    ttc = shop.funnel_time_to_convert(STEPS, window=3600, step=2, bins=2, start=start,
                                      end=end)
    assert ttc.users == 2 and ttc.median_seconds == 600.0
    assert [b.users for b in ttc.bins] == [0, 2]
    with pytest.raises(ValidationError) as caught:
        list(shop.funnel_leads(STEPS, window=3600, step=1, outcome="dropped"))
    assert "step 1 has no dropped leads" in caught.value.errors[0].message
