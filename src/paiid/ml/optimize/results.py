"""Stored optimisation reports: one JSON file per (symbol, template), at a path no symbol can steer.

Reports live under `PAIID_HOME/optimize/<SYMBOL, percent-encoded>/<strategy_id>.json`. Nothing in the
package reads the optimised parameters back into a backtest or the selector: re-optimising before each
walk-forward window did not beat the defaults out of sample (see the report's `walk_forward`), and
parameters optimised on the full history would inflate every score computed on that history.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from paiid import config
from paiid.backtest import get_strategy
from paiid.data import normalise_symbol
from paiid.errors import BadInput
from paiid.jsonutil import to_jsonable


def results_dir() -> Path:
    """The folder of every stored report (created on first use)."""
    path = config.home() / "optimize"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _result_path(symbol: str, strategy_id: str) -> Path:
    """Where the report of this pair lives: always one folder inside `results_dir()`.

    The folder is the normalised symbol percent-encoded (`BTC/USD` -> `BTC%2FUSD`): a one-to-one
    mapping with no `/` left, and `normalise_symbol` never lets a symbol be `.` or `..`, so no
    symbol names a folder elsewhere. The file name is the template's own id, never the caller's text.
    """
    tpl = get_strategy(strategy_id)
    return results_dir() / quote(normalise_symbol(symbol), safe="^=") / f"{tpl.id}.json"


def save_result(report: Mapping[str, Any]) -> Path:
    """Write the report atomically (a reader never sees half a file)."""
    path = _result_path(report["symbol"], report["strategy_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(to_jsonable(report), indent=2, allow_nan=False))
    os.replace(tmp, path)
    return path


def load_result(symbol: str, strategy_id: str) -> dict[str, Any] | None:
    """The stored report of the last optimisation of this pair, or None."""
    path = _result_path(symbol, strategy_id)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"stored optimisation {path} is unreadable ({exc}); re-run `paiid optimize`") from None


def list_results() -> list[dict[str, Any]]:
    """Every stored optimisation: symbol, strategy, when, and its headline numbers."""
    out = []
    for path in sorted(results_dir().glob("*/*.json")):
        try:
            rep = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        out.append({
            "symbol": rep["symbol"], "strategy_id": rep["strategy_id"], "created": rep["created"],
            "best_params": rep["best_params"], "dsr": rep["deflated_sharpe"]["dsr"],
            "dsr_normal": rep["deflated_sharpe"].get("dsr_normal"),
            "judgement": rep["deflated_sharpe"].get("judgement"),
            "trials_counted": (rep.get("trials_counted") or {}).get("total"),
            "pbo": (rep.get("pbo") or {}).get("pbo"),
            "oos_sharpe": rep["walk_forward"]["oos_sharpe"]["optimized"],
        })
    return out
