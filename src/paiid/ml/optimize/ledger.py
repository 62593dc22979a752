"""Every trial ever run in the search that produced a result, counted for the deflated Sharpe ratio.

The DSR deflates by the number of trials N. Counting only the final study's trials understates N: the
walk-forward window studies looked at the same history, a rerun that changed the seed or the ranges is
another look, and a user who optimises several templates on one symbol and keeps the one that looks
best has searched all of them. The rule (`count_trials`):

* every evaluated trial (completed or pruned; impossible parameter points excluded) of every study of
  this (symbol, template): the walk-forward windows and the full-history study of this run and of
  every earlier run;
* plus every evaluated trial of the other templates on the same symbol: choosing the template that
  optimises best on a symbol is part of the same search;
* plus, when the run names a search `group`, every trial of runs on other symbols in that group (a
  universe-wide search that keeps the best symbol is one search);
* a repeat of a run (same data, template, settings and seed: the same fingerprint) is the same trials
  looked at again, not new ones, and counts once.

The counts persist in two places, merged by run id: the Optuna storage (each study's name is
`paiid:<SYMBOL>:<template>:<run id>:<window>`, with the fingerprint and group as study attributes) and
an append-only ledger `PAIID_HOME/optimize/trials.jsonl`, one line per saved run, which keeps the count
when the storage was in memory or has since been deleted. Trials are treated as independent; they are
correlated (neighbouring parameters, nested windows), so N is an upper bound on the independent trials
and the deflation errs on the side of caution.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
import pandas as pd

from paiid import config
from paiid.ml.optimize.results import results_dir
from paiid.ml.optimize.storage import open_storage

LEDGER = "trials.jsonl"
_EVALUATED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)

#: One run: {"run_id", "symbol", "strategy_id", "group", "fingerprint", "studies": {window: trials}}.
Run = dict[str, Any]


def study_name(symbol: str, strategy_id: str, run_id: str, window: str) -> str:
    """The storage name of one window's study (symbols never contain ':', see `normalise_symbol`)."""
    return f"paiid:{symbol}:{strategy_id}:{run_id}:{window}"


def fingerprint(bars: pd.DataFrame, strategy_id: str, settings: Mapping[str, Any]) -> str:
    """What makes two runs the same search: the bars, the template and every setting that moves a trial."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(bars.index.asi8).tobytes())
    h.update(np.ascontiguousarray(bars.to_numpy(np.float64)).tobytes())
    h.update(json.dumps({"strategy_id": strategy_id, **settings}, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def storage_runs(url: str) -> dict[str, Run]:
    """The runs found in an Optuna storage, with the evaluated trials of each of their studies."""
    storage = open_storage(url)
    runs: dict[str, Run] = {}
    for study in storage.get_all_studies():
        parts = study.study_name.split(":")
        if len(parts) != 5 or parts[0] != "paiid":
            continue
        _, symbol, strategy_id, run_id, window = parts
        study_id = storage.get_study_id_from_name(study.study_name)
        trials = storage.get_all_trials(study_id, deepcopy=False, states=_EVALUATED)
        n = sum("invalid" not in t.user_attrs for t in trials)
        run = runs.setdefault(run_id, {
            "run_id": run_id, "symbol": symbol, "strategy_id": strategy_id, "studies": {},
            "group": study.user_attrs.get("search_group"), "fingerprint": study.user_attrs.get("fingerprint"),
        })
        run["studies"][window] = n
    return runs


def ledger_runs() -> dict[str, Run]:
    """The runs recorded in the ledger (a torn last line from a crash is skipped)."""
    path = config.home() / "optimize" / LEDGER  # reading creates nothing
    if not path.exists():
        return {}
    runs: dict[str, Run] = {}
    for line in path.read_text().splitlines():
        try:
            run = json.loads(line)
            runs[run["run_id"]] = run
        except (ValueError, KeyError, TypeError):
            continue
    return runs


def record_run(run: Run) -> None:
    """Append one run to the ledger (one short line in append mode: concurrent runs do not interleave)."""
    path = results_dir() / LEDGER
    with path.open("a") as fh:
        fh.write(json.dumps(run, sort_keys=True) + "\n")


def count_trials(url: str, this: Run, stored: Mapping[str, Run] | None = None) -> dict[str, Any]:
    """The report's `trials_counted`: the total N for the DSR and where it comes from (see module doc).

    `stored` is `storage_runs(url)` when the caller has it already."""
    runs = ledger_runs()
    runs.update(storage_runs(url) if stored is None else stored)  # the ledger fills in what the storage lost
    runs[this["run_id"]] = this
    seen = {this.get("fingerprint")} - {None}
    earlier = {"runs": 0, "trials": 0}
    other_templates: dict[str, int] = {}
    other_symbols: dict[str, int] = {}
    for run in sorted(runs.values(), key=lambda r: r["run_id"]):
        if run["run_id"] == this["run_id"]:
            continue
        same_symbol = run["symbol"] == this["symbol"]
        in_group = this.get("group") is not None and run.get("group") == this["group"]
        if not (same_symbol or in_group):
            continue
        if run.get("fingerprint") and run["fingerprint"] in seen:
            continue  # not reported: a repeat must give the very same report as the run it repeats
        seen.add(run.get("fingerprint"))
        n = int(sum(run["studies"].values()))
        if same_symbol and run["strategy_id"] == this["strategy_id"]:
            earlier["runs"] += 1
            earlier["trials"] += n
        elif same_symbol:
            other_templates[run["strategy_id"]] = other_templates.get(run["strategy_id"], 0) + n
        else:
            key = f"{run['symbol']}:{run['strategy_id']}"
            other_symbols[key] = other_symbols.get(key, 0) + n
    studies = this["studies"]
    this_run = {"walk_forward": int(sum(v for k, v in studies.items() if k != "full")),
                "full_history": int(studies.get("full", 0))}
    total = (sum(this_run.values()) + earlier["trials"] + sum(other_templates.values())
             + sum(other_symbols.values()))
    return {
        "total": int(total),
        "this_run": this_run,
        "earlier_runs": earlier,
        "other_templates": other_templates,
        "other_symbols": other_symbols,
        "group": this.get("group"),
        "rule": ("every evaluated trial of this symbol: this run's walk-forward and full-history studies, "
                 "earlier runs of this template, every run of the other templates"
                 + (f", and runs on other symbols in search group {this['group']!r}" if this.get("group")
                    else "") + "; an identical rerun (same data, settings and seed) counts once"),
    }


def this_run(stored: Mapping[str, Run], symbol: str, strategy_id: str, run_id: str, group: str | None,
             fp: str) -> Run:
    """The current run as read back from the storage (`storage_runs`: its studies' evaluated trials)."""
    found = stored.get(run_id, {"studies": {}})
    return {"run_id": run_id, "symbol": symbol, "strategy_id": strategy_id, "group": group,
            "fingerprint": fp, "studies": dict(found["studies"])}
