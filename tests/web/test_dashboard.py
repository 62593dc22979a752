"""The dashboard in a real browser: Debian's chromium (Playwright) against a real `paiid serve`.

The server is a subprocess on 127.0.0.1 with its own PAIID_HOME whose models were trained once per
session on SPX (the `trained` fixture of tests/conftest.py), so the test exercises exactly what a user runs.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from paiid.bench.api import Server, linked_home, serve
from paiid.engine.orchestrator import ab_group

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
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


@pytest.fixture(scope="module")
def server(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(linked_home(trained, tmp_path_factory.mktemp("dashboard-home"))) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


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
