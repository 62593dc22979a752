"""One `AnswerContext` shared by the four answers gives exactly the answers each computes on its own.

Real models (trained once per session on SPX by `paiid train`), real bars; the answers are compared
whole, so a piece of context read under the wrong model, template or regime source would show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from paiid.backtest import STRATEGIES
from paiid.bench.api import linked_home
from paiid.data import load_bars
from paiid.errors import BadInput
from paiid.ml.context import AnswerContext
from paiid.ml.patterns import patterns_answer
from paiid.ml.regime import regime_answer
from paiid.ml.selector import recommend_answer
from paiid.ml.tradeprob import trade_answer

pytestmark = pytest.mark.slow

NAMES = ("regime", "selector", "tradeprob", "pattern_scorer")


@pytest.fixture(scope="module")
def models(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from paiid.engine import registry

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAIID_HOME", str(linked_home(trained, tmp_path_factory.mktemp("context"))))
        return {name: registry.load(name)[0] for name in NAMES}


def _answers(models: dict[str, Any], bars: Any, context: AnswerContext | None) -> list[Any]:
    reg, sel, trade, pat = (models[n] for n in NAMES)
    out: list[Any] = [
        regime_answer(reg, bars, "SPX", context=context),
        recommend_answer(sel, reg, bars, "SPX", context=context),
        recommend_answer(sel, None, bars, "SPX", context=context),  # the selector's rule regime
        patterns_answer(pat, bars, "SPX", context=context),
        patterns_answer(pat, bars, "SPX", "weekly", context=context),
    ]
    for tid in STRATEGIES:
        for side in ("long", "short", None):
            try:
                out.append(trade_answer(trade, bars, "SPX", tid, side, context=context))
            except BadInput as e:  # a flat template without a side: the same refusal either way
                out.append(str(e))
    return out


@pytest.mark.parametrize("date", ["2008-10-15", "2018-12-31"])
def test_answers_from_one_shared_context_equal_the_answers_alone(models: dict[str, Any], date: str) -> None:
    bars = load_bars("SPX", end=date)
    alone = _answers(models, bars, None)
    ctx = AnswerContext("SPX", bars)
    assert _answers(models, bars, ctx) == alone
    # and each piece was computed once: the context hands back the same objects
    assert ctx.backtest("momentum-macd") is ctx.backtest("momentum-macd")
    assert ctx.regime_history(models["regime"]) is ctx.regime_history(models["regime"])
    assert ctx.symbol_context().features is ctx.features


def test_a_context_of_other_bars_is_refused(models: dict[str, Any]) -> None:
    bars = load_bars("SPX", end="2015-06-01")
    ctx = AnswerContext("SPX", bars)
    with pytest.raises(ValueError, match="other bars"):
        regime_answer(models["regime"], bars.iloc[:-1], "SPX", context=ctx)
