"""`POST /api/journal` and `GET /api/journal` on a real server: the contract, the API key, refusals with
their reason, append-only corrections, the report's journal block, answers that carry their log id,
and two uvicorn workers journalling at once without losing a row (counted with sqlite3, not our code).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest

from paiid import config
from paiid.backtest import DEFAULT_COMMISSION_BPS, DEFAULT_SLIPPAGE_BPS
from paiid.bench.api import linked_home, serve
from paiid.data import load_bars
from paiid.engine import tracking

KEY = "journal-key"
REQUEST_FIELDS = {"prediction_id", "action", "template", "side", "entry", "stop", "target", "entry_date",
                  "supersedes", "note"}
RESPONSE_FIELDS = REQUEST_FIELDS | {"id", "user_id", "ab_group", "recorded_at", "source", "status"}


@pytest.fixture
def server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIID_API_KEY", KEY)


def _log_trades(n: int, start: int = 3000, step: int = 37) -> list[int]:
    bars = load_bars("SPX")
    return [tracking.log_prediction("trade", "SPX", {
        "as_of": bars.index[start + step * i].isoformat(), "strategy_id": "momentum-macd",
        "side": "long" if i % 2 else "short", "win_probability": 0.5, "horizon_bars": 20,
    }) for i in range(n)]


def _body(pid: int, **kw) -> dict:
    return {"prediction_id": pid, "action": "adopt", "template": None, "side": None, "entry": None,
            "stop": None, "target": None, "entry_date": None, "supersedes": None, "note": None, **kw}


def test_journal_contract_guards_and_refusals(server: str) -> None:
    pid, other = _log_trades(2)
    auth = {"X-API-Key": KEY, "X-User-Id": "dana"}
    with httpx.Client(base_url=server, timeout=60) as c:
        assert c.post("/api/journal", json=_body(pid)).status_code == 401  # writing needs the key
        refusals = [
            (_body(987654), "unknown prediction_id 987654"),
            (_body(other, action="manual", side="long", entry=100.0, stop=120.0),
             "stop 120 is above the entry 100 for a long"),
            (_body(other, action="manual", side="long", entry_date="2199-01-01"), "is in the future"),
            (_body(other, action="adopt", supersedes=5555), "entry 5555 does not exist"),
        ]
        for body, message in refusals:
            r = c.post("/api/journal", json=body, headers=auth)
            assert r.status_code == 422 and message in r.json()["detail"], r.text
        r = c.post("/api/journal", json={**_body(pid), "action": "buy-the-dip"}, headers=auth)
        assert r.status_code == 422
        assert c.get("/api/journal").json() == {"entries": []}  # nothing was written by a refusal

        r = c.post("/api/journal", json=_body(pid, note="took it"), headers=auth)
        assert r.status_code == 201, r.text
        first = r.json()
        assert set(first) == RESPONSE_FIELDS
        assert first["user_id"] == "dana" and first["ab_group"] == tracking.ab_group("dana")
        assert first["source"] == "user" and first["template"] == "momentum-macd" and first["side"] == "short"
        assert first["status"] in ("won", "lost", "timeout")  # 2010s bars: the outcome is known
        r = c.post("/api/journal", json=_body(pid, action="pass", supersedes=first["id"]), headers=auth)
        assert r.status_code == 201 and r.json()["status"] == "passed"
        again = c.post("/api/journal", json=_body(pid, action="pass", supersedes=first["id"]), headers=auth)
        assert again.status_code == 422 and "already superseded" in again.json()["detail"]

        listed = c.get("/api/journal").json()["entries"]
        assert [e["id"] for e in listed] == [r.json()["id"], first["id"]]  # newest first, both kept
        assert [e["status"] for e in listed] == ["passed", "superseded"]
        assert all(set(e) == RESPONSE_FIELDS for e in listed)
        assert c.get("/api/journal", params={"user": "nobody"}).json() == {"entries": []}
        assert len(c.get("/api/journal", params={"limit": 1}).json()["entries"]) == 1
        assert c.get("/api/journal", params={"limit": 0}).status_code == 422

        perf = c.get("/api/ml/performance", params={"resolve": "false"}).json()
        j = perf["journal"]
        assert {"simulated", "entries", "adoption", "outcomes", "calibration", "summary"} <= set(j)
        assert j["simulated"] is False and j["entries"] == 2
        assert {"rate", "ci", "n", "adopted", "by_template", "by_regime", "by_group"} <= set(j["adoption"])
        assert (j["adoption"]["adopted"], j["adoption"]["n"]) == (0, 1)  # the adopt was corrected to a pass
        # what the passed advice would have earned is stated net of the backtester's default costs
        assert j["outcomes"]["groups"]["passed"]["resolved"] == 1
        assert j["outcomes"]["costs"] == {"commission_bps": DEFAULT_COMMISSION_BPS,
                                          "slippage_bps": DEFAULT_SLIPPAGE_BPS, "per": "fill", "fills": 2,
                                          "returns": "net"}
        assert (f"returns are net of costs ({DEFAULT_COMMISSION_BPS:g} bp commission + "
                f"{DEFAULT_SLIPPAGE_BPS:g} bp slippage per fill") in j["outcomes"]["basis"]
        assert all(isinstance(s, str) for s in j["summary"])


async def _burst(url: str, ids: list[int]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as c:
        return await asyncio.gather(*(
            c.post("/api/journal", json=_body(pid, action="adopt" if i % 3 else "pass"),
                   headers={"X-API-Key": KEY, "X-User-Id": f"user-{i}"})
            for i, pid in enumerate(ids)))


def test_two_workers_journalling_at_once_lose_nothing(trained: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    home = linked_home(trained, tmp_path / "home")
    monkeypatch.setenv("PAIID_HOME", str(home))
    ids = _log_trades(60, start=2000, step=40)
    with serve(home, workers=2, env={"PAIID_API_KEY": KEY}) as srv:
        responses = asyncio.run(_burst(srv.url, ids))
        # a served answer carries the id that the journal links to
        with httpx.Client(base_url=srv.url, timeout=300) as c:
            answer = c.post("/api/ml/predict-trade", json={"symbol": "SPX", "strategy_id": "momentum-macd",
                                                           "side": "long"}).json()
            assert isinstance(answer["prediction_id"], int)
            r = c.post("/api/journal", json=_body(answer["prediction_id"]), headers={"X-API-Key": KEY})
            assert r.status_code == 201, r.text
            assert r.json()["status"] == "open"  # as of the last bar: its window has not arrived
            extra = r.json()["id"]
    assert [r.status_code for r in responses] == [201] * len(ids), [r.text for r in responses
                                                                    if r.status_code != 201]
    with sqlite3.connect(config.home() / "paiid.db") as db:
        rows = db.execute("SELECT id, prediction_id, user_id FROM journal").fetchall()
    assert len(rows) == len(ids) + 1
    assert {r[1] for r in rows} == set(ids) | {answer["prediction_id"]}
    assert {r.json()["id"] for r in responses} | {extra} == {r[0] for r in rows}
