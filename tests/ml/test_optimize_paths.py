"""Stored optimisation results: a symbol never names a file outside `PAIID_HOME/optimize`, and two different
symbols never share one file (`paiid optimize ..` wrote momentum-macd.json one folder up).

Real files under the test's PAIID_HOME; what is read back is compared with what was written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paiid.errors import BadInput
from paiid.ml.optimize import load_result, results_dir, save_result

STRATEGY = "momentum-macd"


def _report(symbol: str, fast: int) -> dict:
    return {"symbol": symbol, "strategy_id": STRATEGY, "best_params": {"fast": fast}}


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("symbol", ["..", "../..", "../../etc/passwd", "A/../B", "./A", "/A", "A/"])
def test_path_like_symbols_are_refused_and_write_nothing(paiid_home: Path, symbol: str) -> None:
    before = _files(paiid_home.parent)
    with pytest.raises(BadInput, match="invalid symbol"):
        save_result(_report(symbol, 1))
    with pytest.raises(BadInput, match="invalid symbol"):
        load_result(symbol, STRATEGY)
    assert _files(paiid_home.parent) == before


def test_symbols_with_separators_stay_inside_the_results_folder_and_apart(paiid_home: Path) -> None:
    symbols = ["BTC/USD", "BTC_USD", "BTC-USD", "BTC.USD", "^GSPC", "EURUSD=X", "A/B/C"]
    paths = [save_result(_report(sym, i)) for i, sym in enumerate(symbols)]
    root = results_dir().resolve()
    assert root == (paiid_home / "optimize").resolve()
    for path in paths:
        assert path.resolve().parent.parent == root, path  # one folder per symbol, directly inside
        assert path.name == f"{STRATEGY}.json"
    assert len({p.resolve() for p in paths}) == len(symbols)  # no two symbols share a file
    for i, sym in enumerate(symbols):
        assert load_result(sym, STRATEGY)["best_params"] == {"fast": i}
        # the normalised symbol is the key
        assert load_result(sym.lower(), STRATEGY)["best_params"] == {"fast": i}
