"""`paiid data fetch`: daily bars from Tradier's `/v1/markets/history`, validated and stored.

Tradier answers `{"history": {"day": [{"date", "open", "high", "low", "close", "volume"}, ...]}}`.
Two quirks shape the parser: a range with no bars comes back as `{"history": null}`, and a range
with exactly one bar has `day` as a single object instead of a one-element list.

Long ranges are split into chunks of at most a year so that no single response is huge and one
failed request costs little to repeat. Rate limits (429) and server errors (5xx) are retried by
tenacity with exponential backoff, honouring `Retry-After`; the number of attempts is bounded so a
dead upstream fails in seconds, not forever. A rejected token (401/403) is never retried: it will
not fix itself.
Days Tradier sends without prices (null or "NaN") are dropped and reported; anything else wrong
with the bars fails validation and stores nothing.

Configuration (environment): `TRADIER_TOKEN` (required), `TRADIER_BASE_URL` (default the
production API), `TRADIER_MAX_RETRIES`, `TRADIER_BACKOFF_BASE` (seconds; tests set it tiny).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd
import tenacity

from paiid import config
from paiid.data.bundled import is_protected
from paiid.data.repository import claim_symbol
from paiid.errors import BadInput, UpstreamError

#: The client's defaults are those of the TRADIER_* settings.
_SETTINGS = config.Settings.model_fields
DEFAULT_BASE_URL: str = _SETTINGS["tradier_base_url"].default
HISTORY_PATH = "/v1/markets/history"
#: Longest date range asked for in one request (calendar days, inclusive).
CHUNK_DAYS = 365
DEFAULT_MAX_RETRIES: int = _SETTINGS["tradier_max_retries"].default
DEFAULT_BACKOFF_BASE: float = _SETTINGS["tradier_backoff_base"].default
#: No single wait is longer than this, whatever `Retry-After` says (a CLI user is waiting).
MAX_WAIT_S = 60.0
FIELDS = ("date", "open", "high", "low", "close", "volume")


def parse_date(value: str | dt.date, name: str) -> dt.date:
    """A YYYY-MM-DD string (or date) as a `date`, with an error that names the option."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise BadInput(f"invalid --{name} {value!r}: use YYYY-MM-DD") from None


def date_chunks(start: dt.date, end: dt.date, days: int = CHUNK_DAYS) -> list[tuple[dt.date, dt.date]]:
    """Split [start, end] (inclusive) into consecutive, non-overlapping ranges of at most `days` days."""
    if days < 1:
        raise ValueError("days must be >= 1")
    out = []
    lo = start
    while lo <= end:
        hi = min(end, lo + dt.timedelta(days=days - 1))
        out.append((lo, hi))
        lo = hi + dt.timedelta(days=1)
    return out


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def parse_history(payload: Any, what: str = "Tradier history") -> list[dict[str, Any]]:
    """The list of day records in a `/markets/history` JSON payload (empty for `history: null`).

    Raises `UpstreamError` naming what is wrong when the payload is not Tradier's shape, so a
    changed or broken upstream is reported as such instead of as bad bars.
    """
    if not isinstance(payload, dict) or "history" not in payload:
        keys = ", ".join(map(str, payload)) if isinstance(payload, dict) else type(payload).__name__
        raise UpstreamError(f"{what}: unexpected payload (expected an object with 'history', got {keys})")
    history = payload["history"]
    if history is None or history == "null":
        return []
    if not isinstance(history, dict):
        raise UpstreamError(f"{what}: 'history' should be an object or null, got {type(history).__name__}")
    days = history.get("day")
    if days is None:
        return []
    if isinstance(days, dict):  # Tradier sends a lone object when the range holds one bar
        days = [days]
    if not isinstance(days, list):
        raise UpstreamError(f"{what}: 'history.day' should be a list or an object, got {type(days).__name__}")
    for i, day in enumerate(days):
        if not isinstance(day, dict):
            raise UpstreamError(f"{what}: day #{i} is {type(day).__name__}, not an object")
        missing = [f for f in FIELDS if f not in day]
        if missing:
            raise UpstreamError(f"{what}: day #{i} ({day.get('date', '?')}) lacks {', '.join(missing)}")
    return days


class _TryAgain(Exception):
    """A response worth another attempt (rate limit or server trouble), kept for its `Retry-After`."""

    def __init__(self, response: httpx.Response):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class _WaitRetryAfter(tenacity.wait.wait_base):
    """tenacity wait: what `Retry-After` says when the server sent it, else exponential backoff
    (base × 2^(attempt-1)); never longer than `MAX_WAIT_S`."""

    def __init__(self, backoff_base: float):
        self.backoff = tenacity.wait_exponential(multiplier=backoff_base, max=MAX_WAIT_S)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
        hinted = _retry_after(exc.response.headers.get("Retry-After")) if isinstance(exc, _TryAgain) else None
        return min(hinted, MAX_WAIT_S) if hinted is not None else self.backoff(retry_state)


@dataclass
class TradierClient:
    """A small synchronous client for the one Tradier endpoint paiid needs."""

    token: str
    base_url: str = DEFAULT_BASE_URL
    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_base: float = DEFAULT_BACKOFF_BASE
    timeout: float = 30.0
    chunk_days: int = CHUNK_DAYS
    #: How the client waits between attempts; injectable so tests can record the waits.
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    @classmethod
    def from_env(cls, **overrides: Any) -> TradierClient:
        """A client configured from TRADIER_* environment variables (see the module docstring)."""
        settings = config.settings()
        if settings.tradier_token is None:
            raise BadInput(
                "TRADIER_TOKEN is not set: export your Tradier API access token "
                "(https://dash.tradier.com/settings/api), or import a file with `paiid data import`"
            )
        kwargs: dict[str, Any] = {
            "token": settings.tradier_token.get_secret_value(),
            "base_url": settings.tradier_base_url,
            "max_retries": settings.tradier_max_retries,
            "backoff_base": settings.tradier_backoff_base,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    @property
    def history_url(self) -> str:
        """The endpoint URL; a base URL without http(s):// is the user's typo, said plainly."""
        base = self.base_url.strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise BadInput(f"TRADIER_BASE_URL {self.base_url!r} must start with https:// (or http://)")
        if base.endswith("/v1"):  # accept both https://api.tradier.com and https://api.tradier.com/v1
            base = base[: -len("/v1")]
        return base + HISTORY_PATH

    def _send(self, client: httpx.Client, params: dict[str, str]) -> httpx.Response:
        """One attempt; a rate limit (429) or server trouble (5xx) is raised as `_TryAgain`."""
        response = client.get(self.history_url, params=params)
        if response.status_code == 429 or 500 <= response.status_code < 600:
            raise _TryAgain(response)
        return response

    def _get(self, client: httpx.Client, params: dict[str, str]) -> Any:
        """One logical request: retried on 429/5xx/transport errors, decoded as JSON."""
        what = f"Tradier history for {params['symbol']} {params['start']}..{params['end']}"
        attempts = self.max_retries + 1
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((httpx.TransportError, _TryAgain)),
            stop=tenacity.stop_after_attempt(attempts),
            wait=_WaitRetryAfter(self.backoff_base),
            sleep=self.sleep,
        )
        try:
            response = retrying(self._send, client, params)
        except tenacity.RetryError as err:
            exc = err.last_attempt.exception()
            last = str(exc) if isinstance(exc, _TryAgain) else f"{type(exc).__name__}: {exc}"
            raise UpstreamError(
                f"{what} failed after {attempts} attempt(s) (last: {last}); try again later"
            ) from None
        status = response.status_code
        if status in (401, 403):  # a rejected token will not fix itself: never retried
            raise BadInput(
                f"Tradier rejected the token (HTTP {status}): check TRADIER_TOKEN is a valid, "
                "unexpired access token for the API at " + self.history_url.removesuffix(HISTORY_PATH)
                + " (sandbox tokens only work with TRADIER_BASE_URL=https://sandbox.tradier.com)"
            )
        if status != 200:
            snippet = response.text[:200].replace("\n", " ").strip()
            raise UpstreamError(f"{what}: HTTP {status} {snippet}".rstrip())
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            snippet = response.text[:80].replace("\n", " ")
            raise UpstreamError(f"{what}: response is not JSON ({snippet!r})") from None

    def history(self, symbol: str, start: str | dt.date, end: str | dt.date) -> pd.DataFrame:
        """Daily bars for [start, end] as a raw table (date, open, high, low, close, volume).

        Requests one chunk per `chunk_days`; chunks never overlap, so their rows simply concatenate.
        Returns an empty frame with those columns when Tradier has no bars in the range.
        """
        first, last = parse_date(start, "start"), parse_date(end, "end")
        if last < first:
            raise BadInput(f"--end {last} is before --start {first}")
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        rows: list[dict[str, Any]] = []
        with httpx.Client(headers=headers, timeout=self.timeout) as client:
            for lo, hi in date_chunks(first, last, self.chunk_days):
                params = {
                    "symbol": symbol, "interval": "daily", "start": lo.isoformat(), "end": hi.isoformat(),
                }
                payload = self._get(client, params)
                rows.extend(parse_history(payload, f"Tradier history for {symbol} {lo}..{hi}"))
        frame = pd.DataFrame([{f: r[f] for f in FIELDS} for r in rows], columns=list(FIELDS))
        return frame


def fetch_and_store(
    symbol: str, start: str | dt.date, end: str | dt.date, *, client: TradierClient | None = None
) -> dict:
    """Fetch daily bars from Tradier and store them like an import (validated, atomic, idempotent)."""
    from paiid.data.importer import import_bars

    sym = claim_symbol(symbol)
    if is_protected(sym):  # fail before spending any request on it
        raise BadInput(f"{sym} is a bundled symbol and cannot be overwritten; fetch it under another name")
    first, last = parse_date(start, "start"), parse_date(end, "end")
    if last < first:
        raise BadInput(f"--end {last} is before --start {first}")
    client = client or TradierClient.from_env()
    raw = client.history(sym, first, last)
    if raw.empty:
        raise BadInput(
            f"Tradier has no daily bars for {sym} between {first} and {last}; check the symbol and dates"
        )
    raw, dropped = drop_unpriced_days(raw)
    if raw.empty:
        raise UpstreamError(f"Tradier sent no usable prices for {sym} between {first} and {last}")
    result = import_bars(raw, sym, source="tradier", sort=True)
    if dropped:
        more = f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""
        result["fixes"].append(
            f"dropped {len(dropped)} day(s) Tradier sent without prices: {', '.join(dropped[:5])}{more}"
        )
    result["chunks"] = len(date_chunks(first, last, client.chunk_days))
    return result


def drop_unpriced_days(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Remove days whose open/high/low/close are null or "NaN" (Tradier sends such rows now and then).

    The user cannot repair the upstream, and one such row would otherwise reject the whole fetch; the
    dropped dates are reported in the result's `fixes`. Every other problem still fails validation.
    """
    prices = raw[["open", "high", "low", "close"]].apply(pd.to_numeric, errors="coerce")
    unusable = ~np.isfinite(prices.to_numpy(dtype="float64")).all(axis=1)
    if not unusable.any():
        return raw, []
    return raw.loc[~unusable].reset_index(drop=True), [str(d) for d in raw.loc[unusable, "date"]]
