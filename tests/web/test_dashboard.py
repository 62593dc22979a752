"""The dashboard in a real browser: Debian's chromium (Playwright) against a real `paiid serve`.

The server is a subprocess on 127.0.0.1 with its own PAIID_HOME whose models were trained once per
session on SPX (the `trained` fixture of tests/conftest.py), so the test exercises exactly what a user runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paiid.bench.api import Server, child_env, linked_home, paiid_command, serve
from paiid.data import load_bars
from paiid.engine.orchestrator import ab_group

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REGIMES = {"trending bullish", "trending bearish", "ranging", "high volatility"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
#: An as-of date whose 250-bar SPX window holds chart patterns and candlesticks (a pattern-free
#: chart would not show that patterns are drawn).
PATTERN_DATE = "2016-08-31"


def _chart(page) -> dict:
    """What plotly holds in the chart div: trace type, bar count, last date, pattern boxes."""
    return page.evaluate(
        "() => { const c = document.getElementById('chart'); const x = c.data[0].x;"
        " return {type: c.data[0].type, n: x.length, last: x[x.length - 1],"
        " rects: (c.layout.shapes || []).filter(s => s.type === 'rect').length}; }"
    )


#: A symbol of real SPX bars followed by a crash no training row resembles (imported into the server's home).
SHOCK = "SHOCK"
#: SPX's last 60 bars: too short for any answer (the watchlist shows its row with the reason).
SHORT = "SHORTY"


def _shock_csv(path: Path, days: int = 12) -> Path:
    """SPX's bars, then a 40% gap down and days of +-9% swings on five times the volume."""
    bars = load_bars("SPX")
    last = float(bars["close"].iloc[-1])
    idx = pd.bdate_range(bars.index[-1] + pd.Timedelta(days=1), periods=days, name="date")
    close = last * 0.6 * np.cumprod(np.where(np.arange(days) % 2, 1.09, 0.92))
    opens = np.concatenate([[last * 0.6], close[:-1]])
    new = pd.DataFrame({"open": opens, "high": np.maximum(opens, close) * 1.03,
                        "low": np.minimum(opens, close) * 0.97, "close": close,
                        "volume": float(bars["volume"].iloc[-250:].mean()) * 5}, index=idx)
    pd.concat([bars, new]).reset_index().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def server(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = linked_home(trained, tmp_path_factory.mktemp("dashboard-home"))
    csv = _shock_csv(tmp_path_factory.mktemp("shock") / "shock.csv")
    out = subprocess.run(paiid_command("data", "import", str(csv), "--symbol", SHOCK), env=child_env(home),
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    short = tmp_path_factory.mktemp("short") / "short.csv"
    load_bars("SPX").iloc[-60:].reset_index().to_csv(short, index=False)
    out = subprocess.run(paiid_command("data", "import", str(short), "--symbol", SHORT), env=child_env(home),
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    with serve(home) as srv:
        yield srv


def test_dashboard_shows_regime_strategies_and_chart(server: Server, browser, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1200})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda m: problems.append(f"console error: {m.text}") if m.type == "error" else None)
    page.on("requestfailed", lambda req: problems.append(f"request failed: {req.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

    page.goto(server.url + "/", wait_until="domcontentloaded")
    page.wait_for_selector("#symbol option[value='SPX']", state="attached", timeout=30_000)
    options = page.eval_on_selector_all("#symbol option", "els => els.map(e => e.value)")
    assert {"SPX", "GOOG", "EURUSD"} <= set(options)  # from /api/data/symbols
    page.select_option("#symbol", "SPX")
    page.click("#refresh")
    page.wait_for_selector("body[data-state='ready'][data-symbol='SPX']", timeout=90_000)

    # regime badge with its confidence and features
    regime = page.inner_text("#regime-badge").strip().lower()
    assert regime in REGIMES
    assert re.search(r"confidence \d+%", page.inner_text("#regime-confidence"))
    features = page.inner_text("#regime-features")
    assert "Volatility" in features and "Trend strength" in features and "Volume trend" in features

    # ranked strategies with probability bars
    strategies = page.query_selector_all("#strategies li.strategy")
    assert len(strategies) >= 1
    probs = [s.query_selector(".prob").inner_text() for s in strategies]
    assert all(re.fullmatch(r"\d+%", p) for p in probs), probs
    assert page.query_selector("#strategies .probbar > div") is not None

    # the interactive candlestick chart
    page.wait_for_selector("#chart .main-svg", timeout=30_000)
    assert _chart(page)["type"] == "candlestick" and _chart(page)["n"] == 250

    # as of a date with patterns in the window: one box per detected pattern, listed in the table too
    page.fill("#date", PATTERN_DATE)
    page.click("#refresh")
    page.wait_for_function(
        "d => document.body.dataset.state === 'ready'"
        " && document.getElementById('asof').textContent.includes(d)",
        arg=PATTERN_DATE, timeout=90_000,
    )
    chart = _chart(page)
    assert chart["last"].startswith(PATTERN_DATE)
    window_patterns = page.evaluate(
        "async d => (await (await fetch(`/api/ai/chart?symbol=SPX&tail=250&date=${d}`)).json()).patterns",
        PATTERN_DATE,
    )
    assert len(window_patterns) >= 1
    assert chart["rects"] == len(window_patterns)
    assert len(page.query_selector_all("#patterns tbody tr[data-pattern]")) == len(window_patterns)

    # the performance panel rendered (calibration plot drawn even before outcomes resolve)
    page.wait_for_selector("#calibration .main-svg", timeout=30_000)

    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "dashboard.png")
    assert not problems, problems
    page.close()


def test_dashboard_shows_ab_group_and_explains_bad_input(server: Server, browser) -> None:
    page = browser.new_page()
    page.goto(server.url + "/?symbol=SPX")
    page.wait_for_selector("body[data-state='ready']", timeout=90_000)

    page.fill("#user", "alice@example.com")
    page.click("#refresh")
    expected = ab_group("alice@example.com")
    page.wait_for_function(
        "g => document.getElementById('ab-group').textContent.includes(g)", arg=expected, timeout=30_000
    )
    who = "manual" if expected == "manual" else "ML"
    assert page.inner_text("#ranking").startswith(f"· ranked by the {who}")

    # a date before any bar: the API's 422 message is shown, not a blank page
    page.fill("#date", "1950-01-03")
    page.click("#refresh")
    page.wait_for_selector("body[data-state='error']", timeout=30_000)
    assert "history" in page.inner_text("#error")
    page.close()


def _parts(reco: dict) -> dict[str, dict]:
    """The typicality blocks of an aggregate answer, by the badge's `data-typicality` name."""
    rec = reco.get("recommendation") if isinstance(reco.get("recommendation"), dict) else {}
    top = reco["strategies"][0] if reco.get("strategies") else {}
    found = {"regime": (reco.get("regime") or {}).get("typicality"),
             "recommendation": rec.get("typicality"),
             "patterns": reco.get("patterns_typicality"),
             "trade": (top.get("trade") or {}).get("typicality")}
    return {k: v for k, v in found.items() if isinstance(v, dict) and "unusual" in v}


def _show(page, url: str, symbol: str) -> dict:
    page.goto(url + f"/?symbol={symbol}")
    page.wait_for_selector(f"body[data-state='ready'][data-symbol='{symbol}']", timeout=180_000)
    return page.evaluate(
        "async s => (await (await fetch(`/api/ai/recommendations?symbol=${s}`)).json())", symbol)


def test_dashboard_shows_unusual_inputs_stand_aside_and_model_dates(server: Server, browser) -> None:
    """On a crash no training row resembles, the selector itself flags its inputs (the recommend-strategy
    answer) and the dashboard shows every unusual answer as a badge with its note; on ordinary bars it
    shows none. The stand-aside verdict and the models' training dates are shown as the answer gives them."""
    page = browser.new_page(viewport={"width": 1440, "height": 1200})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    page.goto(server.url + "/")
    own = page.evaluate("async () => (await (await fetch('/api/ml/recommend-strategy?symbol=SHOCK')).json())")
    assert own["typicality"]["unusual"] is True  # the selector's own out-of-distribution check
    assert isinstance(own["stand_aside"], bool)

    for symbol, crash in ((SHOCK, True), ("SPX", False)):
        reco = _show(page, server.url, symbol)
        parts = _parts(reco)
        if crash:  # the aggregate answer carries the selector's verdicts, and the crash shows as unusual
            assert parts.get("recommendation", {}).get("unusual") is True, sorted(parts)
        top_id = reco["strategies"][0]["strategy_id"] if reco.get("strategies") else ""
        for name, typ in parts.items():
            # each priced strategy carries its own trade badge: look at the top strategy's
            scope = f"[data-strategy='{top_id}'] " if name == "trade" else ""
            badge = page.query_selector(f"{scope}[data-typicality='{name}']")
            if typ["unusual"]:
                assert badge is not None and badge.is_visible(), name
                assert typ["note"] in badge.inner_text()
            else:
                assert badge is None, name
        rec = reco.get("recommendation") or {}
        verdict = page.query_selector("#stand-aside")
        if rec.get("stand_aside") is True:
            assert verdict.is_visible()
            text = verdict.inner_text()
            assert "no template has an edge now — stand aside" in text
            assert rec["stand_aside_reason"].split(": ", 1)[-1][:40] in text
        else:
            assert not verdict.is_visible()
        models = reco.get("models") or {}
        through = (models.get("selector") or {}).get("trained_through")
        if through:
            assert f"trained through {through[:10]}" in page.inner_text("#reco-model")
        for li in page.query_selector_all("#strategies li.strategy"):
            sid = li.get_attribute("data-strategy")
            trade = next(s for s in reco["strategies"] if s["strategy_id"] == sid).get("trade") or {}
            shown = li.query_selector(".uninformative") is not None
            assert shown == (trade.get("informative") is False), sid
    assert not problems, problems
    page.close()


ROWS = "#watchlist tbody tr[data-symbol]"
SYMBOLS_OF = "rs => rs.map(r => r.dataset.symbol)"


def _human(s: str | None) -> str:
    return re.sub(r"[_-]+", " ", str(s))


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.0f}%"


def test_watchlist_shows_the_scan_and_a_row_opens_the_symbol(server: Server, browser) -> None:
    """The watchlist view shows one row a symbol as `/api/ml/scan` answers it (an unanswerable symbol
    with its reason), sorts by a column, and a click on a row opens that symbol's view."""
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda m: problems.append(f"console error: {m.text}") if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

    watch = ["SPX", SHOCK, SHORT]
    page.goto(server.url + f"/?view=watchlist&watchlist={','.join(watch)}")
    page.wait_for_selector("body[data-watchlist='ready']", timeout=180_000)
    assert page.is_visible("#watchlist-view") and not page.is_visible("#symbol-view")
    scan = page.evaluate("async s => (await (await fetch(`/api/ml/scan?symbols=${s}`)).json())",
                         ",".join(watch))
    shown = page.eval_on_selector_all(ROWS, SYMBOLS_OF)
    assert shown == watch == [r["symbol"] for r in scan["rows"]]
    for row in scan["rows"]:
        text = page.inner_text(f"#watchlist tr[data-symbol='{row['symbol']}']")
        if row["error"]:
            assert row["symbol"] == SHORT and "needs at least" in text
            continue
        assert _human(row["regime"]) in text and _pct(row["confidence"]) in text
        assert _human(row["recommendation"]["strategy_id"]) in text and _pct(row["win_probability"]) in text
        assert ("stand aside" in text) == bool(row["stand_aside"])

    # sorted by win probability: largest first (ties by symbol), the unanswerable row last
    page.click("#watchlist th[data-sort='win_probability']")
    order = page.eval_on_selector_all(ROWS, SYMBOLS_OF)
    answered = sorted((r for r in scan["rows"] if not r["error"]), key=lambda r: (-r["win_probability"],
                                                                                  r["symbol"]))
    assert order == [r["symbol"] for r in answered] + [SHORT]

    # a row opens the symbol's view with its answer
    page.click(f"#watchlist tr[data-symbol='{SHOCK}']")
    page.wait_for_selector(f"body[data-state='ready'][data-symbol='{SHOCK}']", timeout=180_000)
    assert page.is_visible("#symbol-view") and not page.is_visible("#watchlist-view")
    assert page.eval_on_selector("#symbol", "e => e.value") == SHOCK
    shock = next(r for r in scan["rows"] if r["symbol"] == SHOCK)
    assert page.inner_text("#regime-badge").strip().lower() == _human(shock["regime"])
    # and the tab brings the scan back as it was, without scanning again
    page.click("#tab-watchlist")
    assert page.is_visible("#watchlist-view")
    assert page.get_attribute("body", "data-watchlist") == "ready"
    assert len(page.query_selector_all(ROWS)) == len(watch)
    assert not problems, problems
    page.close()
