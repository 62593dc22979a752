"""The Tradier client against a real HTTP server on 127.0.0.1 that speaks Tradier's wire format.

The server is a `ThreadingHTTPServer` in a thread. It checks the bearer token like Tradier does
(401 with a text body otherwise), answers `/v1/markets/history` from a table of days, and can be
scripted to answer the next requests with given statuses (429, 500, garbage) first. Payload shapes
follow Tradier's documentation: `{"history": {"day": [...]}}`, a single day as an object, and
`{"history": null}` for a range without bars.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

from paiid.data import COLUMNS, load_bars
from paiid.data.store import read_bars
from paiid.data.tradier import (
    TradierClient,
    _retry_after,
    date_chunks,
    fetch_and_store,
    parse_history,
)
from paiid.errors import BadInput, DataValidationError, UpstreamError

TOKEN = "test-token-123"
PAIID = str(Path(sys.executable).with_name("paiid"))

#: AAPL's first three sessions of 2019, the example in Tradier's `Get Historical Pricing` docs.
AAPL_JAN_2019 = [
    {"date": "2019-01-02", "open": 154.89, "high": 158.85, "low": 154.23, "close": 157.92,
     "volume": 37039737},
    {"date": "2019-01-03", "open": 143.98, "high": 145.72, "low": 142.0, "close": 142.19,
     "volume": 91312195},
    {"date": "2019-01-04", "open": 144.53, "high": 148.5499, "low": 143.8, "close": 148.26,
     "volume": 58607070},
]


def synthetic_days(start: str, end: str, seed: int = 7) -> list[dict[str, Any]]:
    """A random-walk daily series on business days, in Tradier's record shape."""
    dates = pd.bdate_range(start, end)
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(dates))))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * 1.004
    low = np.minimum(open_, close) * 0.996
    vol = rng.integers(1_000_000, 5_000_000, len(dates))
    return [
        {"date": d.strftime("%Y-%m-%d"), "open": round(float(o), 4), "high": round(float(h), 4),
         "low": round(float(lo), 4), "close": round(float(c), 4), "volume": int(v)}
        for d, o, h, lo, c, v in zip(dates, open_, high, low, close, vol, strict=True)
    ]


class TradierStub:
    """State shared with the handler: the days it knows, scripted answers, and every request seen."""

    def __init__(self) -> None:
        self.days: dict[str, dict[str, Any]] = {}
        self.script: list[tuple[int, bytes, dict[str, str]]] = []
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.url = ""

    def add_days(self, days: list[dict[str, Any]]) -> None:
        self.days.update({d["date"]: d for d in days})

    def then(self, status: int, body: Any = b"", headers: dict[str, str] | None = None) -> TradierStub:
        """Answer the next request with this, before falling back to the table of days."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.script.append((status, raw, headers or {}))
        return self

    def history_payload(self, start: str, end: str) -> dict[str, Any]:
        days = [self.days[k] for k in sorted(self.days) if start <= k <= end]
        if not days:
            return {"history": None}
        return {"history": {"day": days[0] if len(days) == 1 else days}}


def _handler(stub: TradierStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            headers = {"Content-Type": "application/json", **headers}
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            with stub.lock:
                stub.requests.append({"path": url.path, "params": params, "headers": dict(self.headers)})
                scripted = stub.script.pop(0) if stub.script else None
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, b"Invalid Access Token", {"Content-Type": "text/plain"})
                return
            if url.path != "/v1/markets/history":
                self._send(404, b"Not Found", {"Content-Type": "text/plain"})
                return
            if scripted is not None:
                self._send(*scripted)
                return
            body = json.dumps(stub.history_payload(params["start"], params["end"])).encode()
            self._send(200, body, {})

    return Handler


@pytest.fixture
def tradier() -> Iterator[TradierStub]:
    stub = TradierStub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


def client_for(stub: TradierStub, waits: list[float] | None = None, **kwargs: Any) -> TradierClient:
    """A client for the stub whose waits are recorded instead of slept (the policy is what we test)."""
    sink = waits if waits is not None else []
    return TradierClient(token=TOKEN, base_url=stub.url, backoff_base=0.01, sleep=sink.append, **kwargs)


# --- parsing Tradier's shapes -------------------------------------------------------------------


def test_parse_history_handles_list_single_object_and_null() -> None:
    assert len(parse_history({"history": {"day": AAPL_JAN_2019}})) == 3
    assert parse_history({"history": {"day": AAPL_JAN_2019[0]}}) == [AAPL_JAN_2019[0]]
    assert parse_history({"history": None}) == []


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"quotes": {}}, "expected an object with 'history'"),
        ([1, 2], "expected an object with 'history'"),
        ({"history": "oops"}, "'history' should be an object or null"),
        ({"history": {"day": "2019-01-02"}}, "'history.day' should be a list"),
        ({"history": {"day": [1]}}, "day #0 is int"),
        ({"history": {"day": [{"date": "2019-01-02", "open": 1.0}]}}, "lacks high, low, close, volume"),
    ],
)
def test_parse_history_rejects_other_shapes(payload: Any, needle: str) -> None:
    with pytest.raises(UpstreamError, match="unexpected payload|should be|day #0") as err:
        parse_history(payload)
    assert needle in err.value.message


def test_date_chunks_cover_the_range_without_overlap() -> None:
    start, end = dt.date(2015, 3, 1), dt.date(2018, 6, 30)
    chunks = date_chunks(start, end, 365)
    assert chunks[0][0] == start and chunks[-1][1] == end
    for (_, b), (c, _) in zip(chunks, chunks[1:], strict=False):
        assert c == b + dt.timedelta(days=1)
    assert all((b - a).days + 1 <= 365 for a, b in chunks)
    # 1218 days in 365-day pieces: ceil(1218 / 365) = 4.
    assert len(chunks) == 4
    assert date_chunks(start, start) == [(start, start)]


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert _retry_after("3") == 3.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    future = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    wait = _retry_after(future.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert wait is not None and 25 <= wait <= 31


# --- requests against the server -----------------------------------------------------------------


def test_fetch_stores_the_documented_example(tradier: TradierStub) -> None:
    tradier.add_days(AAPL_JAN_2019)
    result = fetch_and_store("aapl", "2019-01-02", "2019-01-04", client=client_for(tradier))
    assert result["symbol"] == "AAPL" and result["rows"] == 3 and result["inserted"] == 3
    (req,) = tradier.requests
    assert req["path"] == "/v1/markets/history"
    assert req["params"] == {
        "symbol": "AAPL", "interval": "daily", "start": "2019-01-02", "end": "2019-01-04",
    }
    assert req["headers"]["Accept"] == "application/json"
    bars = load_bars("AAPL")
    expected = pd.DataFrame(AAPL_JAN_2019).set_index("date")
    assert list(bars.index.strftime("%Y-%m-%d")) == list(expected.index)
    np.testing.assert_array_equal(bars.to_numpy(), expected[list(COLUMNS)].to_numpy())


def test_single_day_comes_as_an_object(tradier: TradierStub) -> None:
    tradier.add_days(AAPL_JAN_2019)
    result = fetch_and_store("AAPL", "2019-01-03", "2019-01-03", client=client_for(tradier))
    assert result["rows"] == 1
    assert load_bars("AAPL")["close"].tolist() == [142.19]


def test_no_data_is_a_clear_error_and_stores_nothing(tradier: TradierStub) -> None:
    with pytest.raises(BadInput, match="no daily bars for ZZZZ between 2019-01-01 and 2019-01-31"):
        fetch_and_store("ZZZZ", "2019-01-01", "2019-01-31", client=client_for(tradier))
    assert read_bars("ZZZZ") is None


def test_long_range_is_fetched_in_year_chunks_and_concatenated(tradier: TradierStub) -> None:
    days = synthetic_days("2015-01-01", "2018-12-31")
    tradier.add_days(days)
    result = fetch_and_store("SYNTH", "2015-03-01", "2018-06-30", client=client_for(tradier))
    asked = [(r["params"]["start"], r["params"]["end"]) for r in tradier.requests]
    assert len(asked) == 4 == result["chunks"]
    assert asked[0][0] == "2015-03-01" and asked[-1][1] == "2018-06-30"
    for (_, end), (start, _) in zip(asked, asked[1:], strict=False):
        assert dt.date.fromisoformat(start) - dt.date.fromisoformat(end) == dt.timedelta(days=1)
    expected = [d for d in days if "2015-03-01" <= d["date"] <= "2018-06-30"]
    bars = load_bars("SYNTH")
    assert len(bars) == len(expected) == result["rows"]
    assert list(bars.index.strftime("%Y-%m-%d")) == [d["date"] for d in expected]
    np.testing.assert_array_equal(bars["close"].to_numpy(), [d["close"] for d in expected])


def test_refetch_is_idempotent(tradier: TradierStub) -> None:
    tradier.add_days(AAPL_JAN_2019)
    fetch_and_store("AAPL", "2019-01-02", "2019-01-04", client=client_for(tradier))
    again = fetch_and_store("AAPL", "2019-01-02", "2019-01-04", client=client_for(tradier))
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert len(load_bars("AAPL")) == 3


def test_429_then_200_waits_as_retry_after_says(tradier: TradierStub) -> None:
    tradier.add_days(AAPL_JAN_2019)
    tradier.then(429, {"fault": "rate limit"}, {"Retry-After": "2"})
    waits: list[float] = []
    result = fetch_and_store("AAPL", "2019-01-02", "2019-01-04", client=client_for(tradier, waits))
    assert result["rows"] == 3
    assert len(tradier.requests) == 2
    assert waits == [2.0]


def test_503_with_an_http_date_retry_after_waits_until_then(tradier: TradierStub) -> None:
    tradier.add_days(AAPL_JAN_2019)
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    tradier.then(503, b"", {"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    waits: list[float] = []
    result = fetch_and_store("AAPL", "2019-01-02", "2019-01-04", client=client_for(tradier, waits))
    assert result["rows"] == 3 and len(tradier.requests) == 2
    (wait,) = waits  # the date, not the 0.01 s backoff, decides (HTTP dates have whole seconds)
    assert 25 <= wait <= 31


def test_5xx_is_retried_with_exponential_backoff_then_fails(tradier: TradierStub) -> None:
    for _ in range(10):
        tradier.then(500, b"Internal Server Error")
    waits: list[float] = []
    with pytest.raises(UpstreamError, match="failed after 4 attempt") as err:
        fetch_and_store("AAPL", "2019-01-02", "2019-01-04", client=client_for(tradier, waits, max_retries=3))
    assert "HTTP 500" in err.value.message
    assert len(tradier.requests) == 4
    assert waits == pytest.approx([0.01, 0.02, 0.04])
    assert read_bars("AAPL") is None


def test_503_then_success_recovers(tradier: TradierStub) -> None:
    tradier.add_days(AAPL_JAN_2019)
    tradier.then(503).then(502).then(522)  # 522: a CDN's "origin timed out"
    result = fetch_and_store("AAPL", "2019-01-02", "2019-01-04", client=client_for(tradier))
    assert result["rows"] == 3 and len(tradier.requests) == 4


def test_huge_retry_after_is_capped(tradier: TradierStub) -> None:
    tradier.add_days(AAPL_JAN_2019)
    tradier.then(429, b"", {"Retry-After": "86400"})
    waits: list[float] = []
    fetch_and_store("AAPL", "2019-01-02", "2019-01-04", client=client_for(tradier, waits))
    assert waits == [60.0]


@pytest.mark.parametrize("status", [401, 403])
def test_token_problems_are_not_retried(tradier: TradierStub, status: int) -> None:
    tradier.then(status, b"Invalid Access Token", {"Content-Type": "text/plain"})
    waits: list[float] = []
    with pytest.raises(BadInput, match=f"rejected the token \\(HTTP {status}\\).*TRADIER_TOKEN"):
        fetch_and_store("AAPL", "2019-01-02", "2019-01-04", client=client_for(tradier, waits))
    assert len(tradier.requests) == 1 and waits == []


def test_wrong_token_is_rejected_by_the_server(tradier: TradierStub) -> None:
    client = TradierClient(token="wrong", base_url=tradier.url, sleep=lambda _s: None)
    with pytest.raises(BadInput, match="HTTP 401"):
        client.history("AAPL", "2019-01-02", "2019-01-04")
    assert tradier.requests[0]["headers"]["Authorization"] == "Bearer wrong"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"<html><body>Service temporarily unavailable</body></html>", "not JSON"),
        (b'{"history": {"day": [{"date": "2019-01-02", "close": 1.0}]}}', "lacks open, high, low, volume"),
        (b'{"error": "unexpected"}', "expected an object with 'history'"),
    ],
)
def test_malformed_payloads_are_upstream_errors(tradier: TradierStub, body: bytes, needle: str) -> None:
    tradier.then(200, body)
    with pytest.raises(UpstreamError) as err:
        fetch_and_store("AAPL", "2019-01-02", "2019-01-04", client=client_for(tradier))
    assert needle in err.value.message
    assert read_bars("AAPL") is None


def test_bad_values_are_validated_and_nothing_is_stored(tradier: TradierStub) -> None:
    bad = dict(AAPL_JAN_2019[1], high=140.0)  # high below low
    tradier.add_days([AAPL_JAN_2019[0], bad, AAPL_JAN_2019[2]])
    with pytest.raises(DataValidationError, match="high < low in 1 bar\\(s\\) at 2019-01-03"):
        fetch_and_store("AAPL", "2019-01-02", "2019-01-04", client=client_for(tradier))
    assert read_bars("AAPL") is None


def test_days_without_prices_are_dropped_and_reported(tradier: TradierStub) -> None:
    poisoned = dict(AAPL_JAN_2019[1], open="NaN", high="NaN", low=None)
    tradier.add_days([AAPL_JAN_2019[0], poisoned, AAPL_JAN_2019[2]])
    result = fetch_and_store("AAPL", "2019-01-02", "2019-01-04", client=client_for(tradier))
    assert result["rows"] == 2
    assert result["fixes"] == ["dropped 1 day(s) Tradier sent without prices: 2019-01-03"]
    assert list(load_bars("AAPL").index.day) == [2, 4]


def test_other_client_errors_are_reported_with_the_body(tradier: TradierStub) -> None:
    tradier.then(400, b"Invalid Parameter: interval", {"Content-Type": "text/plain"})
    with pytest.raises(UpstreamError, match="HTTP 400 Invalid Parameter: interval"):
        client_for(tradier).history("AAPL", "2019-01-02", "2019-01-04")
    assert len(tradier.requests) == 1


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    client = TradierClient(token=TOKEN, base_url=f"http://127.0.0.1:{port}", backoff_base=0.01,
                           max_retries=2, sleep=waits.append, timeout=2)
    with pytest.raises(UpstreamError, match="failed after 3 attempt.*ConnectError"):
        client.history("AAPL", "2019-01-02", "2019-01-04")
    assert len(waits) == 2


def test_base_url_may_include_v1(tradier: TradierStub) -> None:
    tradier.add_days(AAPL_JAN_2019)
    client = TradierClient(token=TOKEN, base_url=tradier.url + "/v1/", sleep=lambda _s: None)
    assert len(client.history("AAPL", "2019-01-02", "2019-01-04")) == 3
    assert tradier.requests[0]["path"] == "/v1/markets/history"


def test_environment_configures_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRADIER_TOKEN", raising=False)
    with pytest.raises(BadInput, match="TRADIER_TOKEN is not set"):
        TradierClient.from_env()
    monkeypatch.setenv("TRADIER_TOKEN", " abc ")
    monkeypatch.delenv("TRADIER_BASE_URL", raising=False)
    monkeypatch.setenv("TRADIER_MAX_RETRIES", "2")
    monkeypatch.setenv("TRADIER_BACKOFF_BASE", "0.5")
    client = TradierClient.from_env()
    assert (client.token, client.max_retries, client.backoff_base) == ("abc", 2, 0.5)
    assert client.history_url == "https://api.tradier.com/v1/markets/history"
    monkeypatch.setenv("TRADIER_BASE_URL", "sandbox.tradier.com")
    with pytest.raises(BadInput, match="must start with https://"):
        TradierClient.from_env().history("AAPL", "2019-01-02", "2019-01-03")
    monkeypatch.setenv("TRADIER_MAX_RETRIES", "many")
    with pytest.raises(BadInput, match="TRADIER_MAX_RETRIES"):
        TradierClient.from_env()


def test_bad_arguments_fail_before_any_request(tradier: TradierStub) -> None:
    client = client_for(tradier)
    with pytest.raises(BadInput, match="bundled symbol"):
        fetch_and_store("SPX", "2019-01-02", "2019-01-04", client=client)
    with pytest.raises(BadInput, match="before --start"):
        fetch_and_store("AAPL", "2019-01-04", "2019-01-02", client=client)
    with pytest.raises(BadInput, match="invalid --start '2019/01/02'"):
        fetch_and_store("AAPL", "2019/01/02", "2019-01-04", client=client)
    assert tradier.requests == []


# --- the CLI end to end ---------------------------------------------------------------------------


def run_cli(args: list[str], tradier_url: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {
        **os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1", "TRADIER_TOKEN": TOKEN,
        "TRADIER_BASE_URL": tradier_url, "TRADIER_BACKOFF_BASE": "0.01", **env,
    }
    full_env.pop("PAIID_DATABASE_URL", None)
    return subprocess.run([PAIID, *args], capture_output=True, text=True, env=full_env, timeout=120)


def test_cli_fetch_end_to_end(tradier: TradierStub, paiid_home: Path) -> None:
    tradier.add_days(AAPL_JAN_2019)
    tradier.then(429, b"", {"Retry-After": "0"})
    out = run_cli(["data", "fetch", "AAPL", "--start", "2019-01-02", "--end", "2019-01-04", "--json"],
                  tradier.url, paiid_home)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["symbol"] == "AAPL" and payload["rows"] == 3 and payload["inserted"] == 3
    assert len(tradier.requests) == 2  # the 429 was retried
    listed = run_cli(["data", "list", "--json"], tradier.url, paiid_home)
    aapl = [s for s in json.loads(listed.stdout)["symbols"] if s["symbol"] == "AAPL"]
    # the user's AAPL replaces the bundled close-only one of that name
    assert aapl == [{"symbol": "AAPL", "source": "tradier", "timeframe": "daily",
                     "first": "2019-01-02T00:00:00", "last": "2019-01-04T00:00:00", "bars": 3,
                     "columns": ["open", "high", "low", "close", "volume"]}]


def test_cli_fetch_errors_have_contract_exit_codes(tradier: TradierStub, paiid_home: Path) -> None:
    args = ["data", "fetch", "AAPL", "--start", "2019-01-02", "--end", "2019-01-04", "--json"]
    bad_token = run_cli(args, tradier.url, paiid_home, TRADIER_TOKEN="nope")
    assert bad_token.returncode == 2 and bad_token.stdout == ""
    assert bad_token.stderr.startswith("error: Tradier rejected the token (HTTP 401)")
    no_token = run_cli(args, tradier.url, paiid_home, TRADIER_TOKEN="")
    assert no_token.returncode == 2 and "TRADIER_TOKEN is not set" in no_token.stderr
    for _ in range(3):
        tradier.then(500, b"boom")
    down = run_cli(args, tradier.url, paiid_home, TRADIER_MAX_RETRIES="2")
    assert down.returncode == 1 and "failed after 3 attempt(s) (last: HTTP 500)" in down.stderr
    assert len(down.stderr.strip().splitlines()) == 1
