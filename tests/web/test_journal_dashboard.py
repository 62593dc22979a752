"""The decision journal on the dashboard, in a real browser against a real `paiid serve` (issue 17).

A user enters the server's API key, adopts or passes a recommendation, and the model-performance
panel's adoption rate changes; without a key (or with a wrong one) nothing is written. The server is a
subprocess on 127.0.0.1 with its own database, serving the session's models trained on SPX (the
`trained` fixture of tests/conftest.py), started with PAIID_API_KEY as a user would start it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paiid.bench.api import Server, linked_home, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KEY = "journal-dashboard-key"
ADOPTION = "#journal-adoption"


@pytest.fixture(scope="module")
def server(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Its own database (an empty journal), the shared models, and an API key so journals can be written."""
    home = linked_home(trained, tmp_path_factory.mktemp("journal-dashboard-home"))
    with serve(home, env={"PAIID_API_KEY": KEY}) as srv:
        yield srv


def _journal(server: Server) -> list[dict]:
    """Every journal entry the server stored, read over HTTP (not through the page)."""
    r = httpx.get(f"{server.url}/api/journal", params={"limit": 500}, headers={"X-API-Key": KEY}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def _open(page, server: Server, user: str, key: str | None) -> None:
    """The SPX view for `user` (key typed into its field if given), with the performance panel loaded."""
    page.goto(server.url + "/", wait_until="domcontentloaded")
    page.wait_for_selector("#symbol option[value='SPX']", state="attached", timeout=30_000)
    page.fill("#user", user)
    if key is not None:
        page.fill("#api-key", key)
    page.select_option("#symbol", "SPX")
    page.click("#refresh")
    page.wait_for_selector("body[data-state='ready'][data-symbol='SPX']", timeout=180_000)
    page.wait_for_selector(f"body[data-perf='ready'] {ADOPTION}", state="attached", timeout=60_000)


def _adoption_n(page) -> int:
    return int(page.get_attribute(ADOPTION, "data-n") or 0)


def _wait_n(page, n: int) -> None:
    page.wait_for_function("([sel, n]) => document.querySelector(sel)?.dataset.n === String(n)",
                           arg=[ADOPTION, n], timeout=60_000)


def test_adopting_a_recommendation_changes_the_adoption_rate(server: Server, browser) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1200})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda m: problems.append(f"console error: {m.text}") if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    urls: list[str] = []
    page.on("request", lambda req: urls.append(req.url))

    _open(page, server, "adopter@example.com", KEY)
    # an empty journal: the panel says so instead of showing a rate
    assert _adoption_n(page) == 0
    assert "no journal entries" in page.inner_text(ADOPTION)
    assert _journal(server) == []

    # the key is kept for this tab only, and never travels in a URL
    stored = page.evaluate("() => [sessionStorage.getItem('paiid.apiKey'), JSON.stringify(localStorage)]")
    assert stored == [KEY, "{}"]
    assert KEY not in page.url and not any(KEY in u for u in urls)

    first = page.query_selector("#strategies li.strategy")
    assert first is not None and first.query_selector(".rank").inner_text() == "#1"
    template = first.get_attribute("data-strategy")
    is_post = lambda r: r.url.endswith("/api/journal") and r.request.method == "POST"  # noqa: E731
    with page.expect_response(is_post) as resp:
        first.query_selector("button.journal-btn.adopt").click()
    assert resp.value.status == 201, resp.value.text()
    sent = resp.value.request.post_data_json
    assert resp.value.request.headers.get("x-api-key") == KEY
    assert resp.value.request.headers.get("x-user-id") == "adopter@example.com"
    _wait_n(page, 1)

    # one decision, adopted: 100% of n=1, with the interval the server reports
    adopt = first.query_selector("button.journal-btn.adopt")
    assert adopt.is_disabled() and adopt.inner_text() == "adopted"
    perf = httpx.get(f"{server.url}/api/ml/performance", timeout=60).json()["journal"]
    lo, hi = perf["adoption"]["ci"]
    shown = page.inner_text(ADOPTION)
    assert re.search(rf"^100% \(95% CI {lo * 100:.0f}–{hi * 100:.0f}%, n=1\)", shown), shown
    assert 0 < lo < 1 and hi == pytest.approx(1.0)  # one success in one: the interval is not a point
    assert page.is_visible("#journal-simulated") == bool(perf["simulated"])
    assert "1 / 1" in page.inner_text("#journal-tables [data-journal-table='group']")
    assert page.inner_text("#journal-sentences").strip()  # the report's own sentences are listed

    # what was written is what the page showed: this answer, its top template and side, its trade levels
    (entry,) = _journal(server)
    assert entry["action"] == "adopt" and entry["template"] == template == sent["template"]
    assert entry["prediction_id"] == sent["prediction_id"] and isinstance(sent["prediction_id"], int)
    assert entry["user_id"] == "adopter@example.com"
    side = first.query_selector(".stats [class^='side-']").inner_text()
    assert entry["side"] == (side if side in ("long", "short") else "long")  # flat is priced as a long
    levels = first.query_selector(".levels")
    if levels is not None:  # the trade answer's stop and target, as shown beside its odds
        assert f"stop {entry['stop']:.2f}" in levels.inner_text()
        assert f"target {entry['target']:.2f}" in levels.inner_text()

    # changing one's mind on the same answer: Pass is a correction (a new entry superseding the adoption),
    # so the answer still counts once and is now not adopted: 0% of n=1
    first.query_selector("button.journal-btn.pass").click()
    page.wait_for_selector("#strategies li.strategy[data-journal='passed']", timeout=30_000)
    page.wait_for_function("sel => /^0% /.test(document.querySelector(sel).textContent)", arg=ADOPTION,
                           timeout=60_000)
    assert _adoption_n(page) == 1
    assert not first.query_selector("button.journal-btn.adopt").is_disabled()  # it can be corrected again
    newest, oldest = _journal(server)
    assert newest["action"] == "pass" and newest["supersedes"] == oldest["id"] == entry["id"]
    assert oldest["status"] == "superseded"
    assert not problems, problems
    page.close()


def test_adopt_without_a_key_says_so_and_writes_nothing(server: Server, browser) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1200})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    posts: list[str] = []
    page.on("request", lambda req: posts.append(req.url) if req.method == "POST" else None)
    before = _journal(server)

    _open(page, server, "keyless@example.com", None)
    n_before = _adoption_n(page)
    first = page.query_selector("#strategies li.strategy")
    first.query_selector("button.journal-btn.adopt").click()
    status = first.query_selector(".journal-status")
    page.wait_for_function("s => /API key is needed/.test(s.textContent)", arg=status, timeout=10_000)
    assert posts == []  # nothing was even sent
    assert not first.query_selector("button.journal-btn.adopt").is_disabled()  # the user can retry

    # a wrong key: the server's 401 detail is shown, the buttons stay usable, nothing is written
    page.fill("#api-key", "not-the-key")
    first.query_selector("button.journal-btn.adopt").click()
    page.wait_for_function("s => /X-API-Key/.test(s.textContent)", arg=status, timeout=30_000)
    assert "wrong" in status.inner_text().lower()
    assert not first.query_selector("button.journal-btn.adopt").is_disabled()
    assert first.get_attribute("data-journal") is None

    assert _journal(server) == before
    page.reload()
    page.wait_for_selector(f"body[data-perf='ready'] {ADOPTION}", state="attached", timeout=180_000)
    assert _adoption_n(page) == n_before
    assert not problems, problems
    page.close()
