"""Every endpoint that takes a symbol, given bad input, over HTTP against the real app (uvicorn, 127.0.0.1).

For each endpoint: an unknown symbol (404), a malformed or missing one (422), a symbol whose whole history
is too short (422), an as-of date before the symbol has enough history (422) and a date that is no date
(422). Every answer is the contract's `{"detail": "..."}` naming the problem, never a 500, and bad
input fails before any model is trained or loaded: the server's PAIID_HOME has no models and still
has none after the sweep.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
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
@pytest.mark.parametrize("symbol", ["sp x", "", "x" * 40])
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


def test_training_on_an_unknown_symbol_is_refused_up_front(server: str) -> None:
    r = httpx.post(f"{server}/api/ml/train", json={"symbols": ["NOPE"]}, headers={"X-API-Key": API_KEY},
                   timeout=60)
    _detail(r, 404, "unknown symbol 'NOPE'")


def test_no_model_was_trained_or_registered(server: str, home: Path) -> None:
    """Runs after the sweep above: bad requests never trained anything behind the user's back."""
    assert not list((home / "models").glob("*/v*.json"))
    assert not (home / "jobs").exists() or not list((home / "jobs").iterdir())
