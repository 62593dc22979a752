"""Point in time: an answer as of D equals the answer a store that ends at D gives, models included.

The full world is a copy of the session's trained home (models fitted up to the end of the data); the
answer as of D there must come from models fitted up to D's refit date (vintages, trained on demand).
The cut world is a fresh home where nothing after D exists at all: its data is capped at D
(`paiid.data.as_of`) and its models are trained inside that cap, from scratch. The two must agree on
every number. The dates are drawn at random (seeded, so a failure can be replayed; set
PAIID_PIT_SEED to draw others).

Both worlds train with the real trainers, the selector's and trade model's forests with a few trees
(`tiny_trainers.small_forests`): the property is about which bars a fit and an answer read, and 300
trees made this the slowest test of the suite (four trainings per date) without reading one bar more.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tiny_trainers import small_forests

from paiid.data import as_of, load_bars
from paiid.engine import answers, service, vintages
from paiid.engine.schedule import cap, knowledge_time, refit_date
from paiid.engine.training import train_all
from paiid.errors import NotEnoughHistory

SEED = int(os.environ.get("PAIID_PIT_SEED", "20261201"))
#: Keys that name where a model is stored, not what it computed (version numbers differ by home).
_WHERE = {"version", "vintage", "prediction_id"}


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in _WHERE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _dates(n: int) -> list[str]:
    """`n` random SPX bar dates (seeded), each in a different refit period, from 2005 on (the selector
    needs about five years of history before a refit date)."""
    idx = load_bars("SPX", start="2005-01-01", end="2018-11-30").index
    rng = random.Random(SEED)
    out: list[str] = []
    while len(out) < n:
        d = idx[rng.randrange(len(idx))]
        if all(refit_date(knowledge_time(load_bars("SPX", end=d))) != refit_date(knowledge_time(
                load_bars("SPX", end=o))) for o in out):
            out.append(d.date().isoformat())
    return out


def _all_answers(date: str | None) -> dict[str, Any]:
    return {
        "regime": answers.regime("SPX", date),
        "recommendation": answers.recommendation("SPX", date),
        "trade": answers.trade("SPX", "trend-following-ma-cross", "long", date),
        "patterns": answers.patterns("SPX", date),
    }


def _fresh_process_state() -> None:
    service.clear_cache()
    vintages.clear_cache()


@pytest.mark.parametrize("date", _dates(2))
def test_answer_as_of_d_equals_the_answer_of_a_store_cut_at_d(
        date: str, promoted_models: Callable[[Path], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_forests(monkeypatch)  # both worlds: the vintages below and the cut world's train_all
    full_home = tmp_path / "full"
    full_home.mkdir()
    promoted_models(full_home)  # not the refits other tests left: 300 trees, and maybe this D's
    monkeypatch.setenv("PAIID_HOME", str(full_home))
    _fresh_process_state()
    full = _all_answers(date)
    refit = refit_date(knowledge_time(load_bars("SPX", end=date)))
    for name, answer in full.items():
        for model in (answer.get("models") or {"": answer["model"]}).values():
            assert model["refit_date"] == refit.date().isoformat(), (name, model)
            assert pd.Timestamp(model["trained_through"]) <= pd.Timestamp(date), (name, model)
            assert model["vintage"] is True, (name, model)  # not the promoted model fitted up to 2018

    cut_home = tmp_path / "cut"
    cut_home.mkdir()
    monkeypatch.setenv("PAIID_HOME", str(cut_home))
    _fresh_process_state()
    with as_of(cap(pd.Timestamp(date))):
        train_all(["SPX"])  # the same recipe as the session's models, on a world that ends at D
        cut = _all_answers(None)
    for name in full:
        assert cut[name]["as_of"] == full[name]["as_of"]
        assert _strip(cut[name]) == _strip(full[name]), name
    _fresh_process_state()


@pytest.fixture
def copied(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with its own copy of the session's models (the test adds past-date refits to it)."""
    home = tmp_path / "h"
    home.mkdir()
    shutil.copytree(trained / "models", home / "models", ignore=shutil.ignore_patterns("*.lock", "*.tmp"))
    monkeypatch.setenv("PAIID_HOME", str(home))
    _fresh_process_state()
    yield home
    _fresh_process_state()


def test_a_vintage_is_trained_once_and_reused(copied: Path) -> None:
    home = copied
    before = set((home / "models" / "regime").glob("v*.skops"))  # the copy may hold other tests' refits
    first = answers.regime("SPX", "2016-08-01")
    second = answers.regime("SPX", "2016-09-15")  # same quarter: the same vintage
    _fresh_process_state()  # a new process finds it in the registry instead of training again
    third = answers.regime("SPX", "2016-07-05")
    assert first["model"] == second["model"] == third["model"]
    assert first["model"]["refit_date"] == "2016-06-30"
    assert len(set((home / "models" / "regime").glob("v*.skops")) - before) <= 1  # at most one new refit
    latest = answers.regime("SPX")
    assert latest["model"]["vintage"] is False and latest["model"]["refit_date"] == "2018-12-31"


def test_no_model_before_there_was_data_to_fit_it(copied: Path) -> None:
    with pytest.raises(NotEnoughHistory, match="up to 1999-12-31"):
        answers.trade("SPX", "trend-following-ma-cross", "long", "2000-03-15")


@pytest.mark.parametrize(("every", "known", "expected"), [
    ("quarter", "2016-06-30 23:59:59.999999999", "2016-06-30"),
    ("quarter", "2016-06-30 15:00", "2016-03-31"),  # an intraday bar before that day's close
    ("quarter", "2016-01-01 23:59:59.999999999", "2015-12-31"),
    ("month", "2016-03-01 23:59:59.999999999", "2016-02-29"),
    ("year", "2016-12-30 23:59:59.999999999", "2015-12-31"),
])
def test_refit_calendar(every: str, known: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIID_REFIT_EVERY", every)
    assert refit_date(pd.Timestamp(known)) == pd.Timestamp(expected)


def test_a_daily_bar_is_known_at_its_close_an_hourly_one_at_its_stamp() -> None:
    daily = load_bars("SPX", end="2016-06-30")
    assert knowledge_time(daily) == pd.Timestamp("2016-06-30 23:59:59.999999999")
    hourly = load_bars("EURUSD", end="2017-06-30")
    assert knowledge_time(hourly) == hourly.index[-1]
