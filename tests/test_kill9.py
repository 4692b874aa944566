"""kill -9 of a real `growthkit serve` twice under load: an at-least-once client (unique ids,
retrying until a 2xx) ends with exactly the events it sent stored, none twice."""

from __future__ import annotations

import time

from load_client import AtLeastOnceClient
from serve_process import ServeProcess, new_app
from sqlalchemy import text

from growthkit.core.store import open_engine

KILLS = 2


def test_kill9_twice_under_load_stores_exactly_what_was_sent(database_url, redis_url, capsys):
    app = new_app(database_url, "Kill9", rateLimitPerMinute=1_000_000)
    server = ServeProcess(database_url, redis_url).start()
    client = AtLeastOnceClient(server.base_url, app["publicKey"], workers=4,
                               batch_size=5).start()
    restarts = []
    try:
        for _ in range(KILLS):
            time.sleep(1.0)  # load running
            server.kill9()  # mid-request: some batches are in flight, some mid-commit
            killed = time.monotonic()
            server.start()  # the same port; start() returns once /health answers
            restarts.append(time.monotonic() - killed)
        time.sleep(1.0)
        result = client.stop()
    except BaseException:
        client.abort()
        raise
    finally:
        server.stop()

    assert not result.unexpected, result.unexpected[:5]
    assert None in result.statuses()  # the kills were seen: connections refused or broken
    assert result.statuses() <= {200, 429, 503, None}, result.statuses()
    engine = open_engine(database_url)
    try:
        with engine.connect() as conn:
            ids = [r.id for r in conn.execute(text("SELECT id FROM activities"))]
    finally:
        engine.dispose()
    with capsys.disabled():
        print(f"\n[kill -9] {len(result.acked)} events acknowledged across {KILLS} kills "
              f"(restarts took {', '.join(f'{s:.1f} s' for s in restarts)}); "
              f"{sum(a.status is None for a in result.answers)} connection failures retried")
    assert len(ids) == len(set(ids))  # no duplicates
    assert set(ids) == result.acked  # nothing lost, nothing extra
