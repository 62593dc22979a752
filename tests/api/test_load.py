"""Under concurrent load with two uvicorn workers, every answer served is in the prediction log.

A real `paiid serve --workers 2` on 127.0.0.1, a bounded burst of concurrent requests (many users,
cached and uncached answers mixed), then the rows are counted in the server's real database — the
SQLite file with the sqlite3 module, or PostgreSQL (PAIID_DATABASE_URL) with psycopg — not through
our own code, so a bug in the logging path cannot hide itself.
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

import httpx
import pytest

from paiid.bench.api import linked_home, serve
from paiid.data import load_bars
from paiid.engine import vintages
from paiid.engine.orchestrator import MODEL_NAMES, ab_group
from postgres_server import Database

pytestmark = pytest.mark.slow

REQUESTS = 240
CONCURRENCY = 24
#: A few as-of dates so some requests compute fresh answers (cold) while most hit the cache.
#: Past dates in one refit period (served by the same point-in-time refit, which test_answers fits too).
DATES = [None, None, None, "2018-06-29", "2018-05-31", "2018-04-30"]


async def _burst(url: str) -> list[tuple[int, dict]]:
    sem = asyncio.Semaphore(CONCURRENCY)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)

    async def one(client: httpx.AsyncClient, i: int) -> tuple[int, dict]:
        params = {"symbol": "SPX"}
        if DATES[i % len(DATES)]:
            params["date"] = DATES[i % len(DATES)]
        headers = {"X-User-Id": f"user-{i % 41}"} if i % 5 else {}
        async with sem:
            r = await client.get(f"{url}/api/ai/recommendations", params=params, headers=headers)
        return r.status_code, (r.json() if r.headers.get("content-type") == "application/json" else {})

    async with httpx.AsyncClient(timeout=120.0, limits=limits) as client:
        return await asyncio.gather(*(one(client, i) for i in range(REQUESTS)))


def _fit_vintages(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fit (once per session: they land in the shared models) the models the past dates are served by."""
    monkeypatch.setenv("PAIID_HOME", str(home))
    for date in filter(None, DATES):
        bars = load_bars("SPX", end=date)
        for name in MODEL_NAMES:
            vintages.serving(name, bars)


def test_no_prediction_row_lost_with_two_workers(
        trained: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
        database: Database) -> None:
    home = linked_home(trained, tmp_path_factory.mktemp("load-home"))
    _fit_vintages(home, monkeypatch)  # this test is about logging under load, not about fitting past models
    served_db = Database(database.kind, database.url, home)  # the server's own home (its SQLite file)
    with serve(home, workers=2, env=database.env()) as srv:
        results = asyncio.run(_burst(srv.url))

    statuses = collections.Counter(code for code, _ in results)
    served = [body for code, body in results if code == 200]
    failed = [f"{code}: {body.get('detail', body)}" for code, body in results if code != 200][:3]
    # nothing failed under load; the message is a str so pytest shows each detail whole (a repr is cut)
    assert statuses == {200: REQUESTS}, f"{dict(statuses)}\n" + "\n".join(failed)

    rows = served_db.rows("SELECT id, user_id, ab_group FROM predictions WHERE kind = 'recommendation'")
    assert len(rows) == len(served)
    # each served answer points at its own row, and the row has the user's deterministic group
    ids = {body["prediction_id"] for body in served}
    assert len(ids) == len(served)
    by_id = {r[0]: r for r in rows}
    assert ids == set(by_id)
    for body in served:
        _, user, group = by_id[body["prediction_id"]]
        assert user == body["user"]
        assert group == body["ab_group"] == ab_group(user)
    # the burst really was served by more than one computation path: cached and fresh answers
    assert {True, False} <= {body["cached"] for body in served}


def test_sqlite_file_is_where_the_server_writes(tmp_path: Path) -> None:
    """Guard for the test above: the log lives in PAIID_HOME/paiid.db (else it would count nothing)."""
    from paiid import config

    assert config.database_url() == f"sqlite:///{config.home() / 'paiid.db'}"
