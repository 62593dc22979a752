"""Every endpoint that takes a symbol, given bad input, over HTTP against the real app (uvicorn, 127.0.0.1).

For each endpoint: an unknown symbol (404), a malformed or missing one (422, path-like ones included), a
symbol whose whole history is too short (422), an as-of date before the symbol has enough history (422), a
date that is no date (422) and dates beyond the range timestamps can hold (422 naming the range). Every
answer is the contract's `{"detail": "..."}` naming the problem, never a 500, and bad
input fails before any model is trained or loaded: the server's PAIID_HOME has no models and still
has none after the sweep.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from paiid.data import load_bars

PAIID = str(Path(sys.executable).with_name("paiid"))
API_KEY = "sweep-key"
SHORT_BARS = 60
EARLY = "1999-03-01"  # 39 bars into SPX

Request = Callable[[str, str | None], tuple[dict[str, Any] | None, dict[str, Any] | None]]


def _query(**extra: Any) -> Request:
    def build(symbol: str, date: str | None) -> tuple[dict[str, Any], None]:
        return {"symbol": symbol, **extra, **({"date": date} if date else {})}, None
    return build


def _body(date_key: str = "date", **extra: Any) -> Request:
    def build(symbol: str, date: str | None) -> tuple[None, dict[str, Any]]:
        return None, {"symbol": symbol, **extra, **({date_key: date} if date else {})}
    return build


#: (method, path) -> how a request for (symbol, as-of date) is written.
ENDPOINTS: dict[tuple[str, str], Request] = {
    ("GET", "/api/ml/market-regime"): _query(),
    ("GET", "/api/ml/recommend-strategy"): _query(),
    ("GET", "/api/ml/detect-patterns"): _query(timeframe="daily"),
    ("POST", "/api/ml/predict-trade"): _body(strategy_id="momentum-macd", side="long"),
    ("GET", "/api/ai/recommendations"): _query(),
    ("GET", "/api/ai/chart"): _query(),
    ("GET", "/api/data/bars"): _query(),
    ("POST", "/api/backtest"): _body("end", strategy_id="momentum-macd"),
}
#: Endpoints that answer with few bars (plain bars need one): only a date before the first bar is too early.
FEW_BARS_OK = {("GET", "/api/data/bars")}
IDS = [f"{m} {p}" for m, p in ENDPOINTS]
def _sym(endpoint: tuple[str, str], symbol: str) -> tuple[str, ...]:
    return (symbol,)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PAIID_HOME with no models and one imported symbol, SHORT, of 60 bars."""
    home = tmp_path_factory.mktemp("api-sweep-home")
    csv = home / "short.csv"
    load_bars("SPX").iloc[-SHORT_BARS:].reset_index().to_csv(csv, index=False)
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1"}
    env.pop("PAIID_DATABASE_URL", None)
    out = subprocess.run([PAIID, "data", "import", str(csv), "--symbol", "SHORT", "--json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return home


@pytest.fixture(autouse=True)
def trains_nothing(home: Path) -> Iterator[None]:
    """After each test, whichever ran before it: bad requests trained nothing behind the user's back."""
    yield
    assert not list((home / "models").glob("*/v*.json")), "a bad request trained or registered a model"
    db = home / "paiid.db"
    if db.exists():
        with sqlite3.connect(db) as conn:  # every paiid database has the table (migration 0002)
            jobs = conn.execute("SELECT count(*) FROM training_jobs").fetchone()[0]
        assert jobs == 0, "a bad request started a job"


@pytest.fixture
def server_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app of `server` (tests/api/conftest.py) serves this home, with an API key set."""
    monkeypatch.setenv("PAIID_HOME", str(home))
    monkeypatch.setenv("PAIID_API_KEY", API_KEY)


def _call(server: str, endpoint: tuple[str, str], symbol: str, date: str | None = None) -> httpx.Response:
    method, path = endpoint
    params, body = ENDPOINTS[endpoint](symbol, date)
    return httpx.request(method, server + path, params=params, json=body, timeout=120)


def _detail(r: httpx.Response, status: int, *needles: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str), body
    for needle in needles:
        assert needle in body["detail"], (needle, body["detail"])
    return body["detail"]


@pytest.mark.parametrize("endpoint", list(ENDPOINTS), ids=IDS)
def test_unknown_symbol_is_404(server: str, endpoint: tuple[str, str]) -> None:
    detail = _detail(_call(server, endpoint, "nope"), 404, "unknown symbol 'NOPE'", "paiid data import")
    assert "SPX" in detail and "SHORT" in detail  # lists what exists, imported symbols included


@pytest.mark.parametrize("endpoint", list(ENDPOINTS), ids=IDS)
@pytest.mark.parametrize("symbol", ["sp x", "", "x" * 40, "..", "../../etc/passwd"])
def test_malformed_symbol_is_422(server: str, endpoint: tuple[str, str], symbol: str) -> None:
    _detail(_call(server, endpoint, symbol), 422, "invalid symbol")


@pytest.mark.parametrize("endpoint", list(ENDPOINTS), ids=IDS)
def test_missing_symbol_is_422(server: str, endpoint: tuple[str, str]) -> None:
    method, path = endpoint
    params, body = ENDPOINTS[endpoint]("SPX", None)
    if params is not None:
        params.pop("symbol")
    else:
        body.pop("symbol")
    r = httpx.request(method, server + path, params=params, json=body, timeout=120)
    _detail(r, 422, "symbol")


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e not in FEW_BARS_OK],
                         ids=[i for e, i in zip(ENDPOINTS, IDS, strict=True) if e not in FEW_BARS_OK])
def test_symbol_with_too_little_history_is_422(server: str, endpoint: tuple[str, str]) -> None:
    _detail(_call(server, endpoint, "SHORT"), 422, "needs at least", f"only {SHORT_BARS} are available",
            *_sym(endpoint, "SHORT"))


@pytest.mark.parametrize("endpoint", list(ENDPOINTS), ids=IDS)
def test_date_before_enough_history_is_422(server: str, endpoint: tuple[str, str]) -> None:
    date = "1980-01-01" if endpoint in FEW_BARS_OK else EARLY
    _detail(_call(server, endpoint, "SPX", date), 422, "needs at least", "bars of history", "are available",
            *_sym(endpoint, "SPX"))


@pytest.mark.parametrize("endpoint", list(ENDPOINTS), ids=IDS)
@pytest.mark.parametrize("date", ["someday", "2018-02-30"])
def test_date_that_is_no_date_is_422(server: str, endpoint: tuple[str, str], date: str) -> None:
    _detail(_call(server, endpoint, "SPX", date), 422, date, "YYYY-MM-DD")


#: Dates a parser accepts but a nanosecond timestamp cannot hold (1677-09-21 00:12 .. 2262-04-11 23:47).
OUT_OF_RANGE = ["9999-12-31", "0001-01-01", "2262-04-12", "1677-09-21"]


@pytest.mark.parametrize("endpoint", list(ENDPOINTS), ids=IDS)
@pytest.mark.parametrize("date", OUT_OF_RANGE)
def test_date_beyond_the_representable_range_is_422(server: str, endpoint: tuple[str, str],
                                                     date: str) -> None:
    _detail(_call(server, endpoint, "SPX", date), 422, repr(date), "out of range", "1677-09-22", "2262-04-11",
            "SPX has bars from 1999-01-04 to 2018-12-31")


@pytest.mark.parametrize(("path", "body"), [
    ("/api/ml/predict-trade", {"strategy_id": "momentum-macd", "side": "long", "date": "2999-01-01"}),
    ("/api/ml/predict-trade", {"strategy_id": "momentum-macd", "date": "9999-12-31T23:00+05:00"}),
    ("/api/backtest", {"strategy_id": "momentum-macd", "start": "9999-12-31"}),
    ("/api/backtest", {"strategy_id": "momentum-macd", "start": "0001-01-01", "end": "2018-01-01"}),
])
def test_reported_out_of_range_requests_are_422(server: str, path: str, body: dict[str, str]) -> None:
    """The requests of issue 12 that answered 500 (OutOfBoundsDatetime, KeyError from an empty slice)."""
    r = httpx.post(server + path, json={"symbol": "SPX", **body}, timeout=120)
    _detail(r, 422, "is out of range", "1677-09-22", "2262-04-11")


@pytest.mark.parametrize("endpoint", list(ENDPOINTS), ids=IDS)
def test_last_representable_day_is_a_normal_answer(server: str, endpoint: tuple[str, str]) -> None:
    """2262-04-11 is in range: as of it, every bar is known, so the answer is the usual one, or a 422 only
    for what it really lacks (SHORT's history), never an error about the date."""
    r = _call(server, endpoint, "SHORT", "2262-04-11")
    if endpoint in FEW_BARS_OK:
        assert r.status_code == 200, r.text
        assert len(r.json()["date"]) == SHORT_BARS
    else:
        _detail(r, 422, "needs at least", f"only {SHORT_BARS} are available")


def test_training_on_an_unknown_symbol_is_refused_up_front(server: str) -> None:
    r = httpx.post(f"{server}/api/ml/train", json={"symbols": ["NOPE"]}, headers={"X-API-Key": API_KEY},
                   timeout=60)
    _detail(r, 404, "unknown symbol 'NOPE'")

