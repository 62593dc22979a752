"""`paiid retrain [--if-drift]` and `paiid retrain --check`: champion/challenger retraining.

See `paiid.engine.retrain` for the protocol. Scheduling it is left to the system (cron or a systemd
timer running `paiid retrain --if-drift --json`), so no daemon has to stay alive.
"""

from __future__ import annotations

from typing import Any

import typer

from paiid.cli.common import JsonOpt, command, console, emit, table


def _render(p: dict[str, Any]) -> None:
    checks = p["checks"]
    rows = []
    for name, m in checks["drift"]["models"].items():
        rows.append({"model": name, "version": m.get("version"), "max_psi": m.get("max_psi"),
                     "drifted": ", ".join(m.get("drifted") or []) or "-"})
    table(f"feature drift (PSI, recent {checks['drift']['recent_bars']} bars vs training window; "
          f"> {checks['drift']['threshold']} = drift)", rows)
    table("live accuracy of serving versions", checks["live_accuracy"]["models"],
          ["model", "version", "resolved", "accuracy", "baseline", "drop"])
    for reason in checks["reasons"]:
        console.print(f"trigger: {reason}")
    if "models" not in p:
        return
    if not p.get("retrained"):
        console.print(p.get("message", "nothing retrained"))
        return
    table("retrain: challenger (fitted before the holdout) vs serving version, on the holdout", [
        {"model": r["name"], "serving": r.get("serving_version"), "candidate": r.get("candidate_version"),
         "holdout_from": str((r.get("holdout") or {}).get("start", ""))[:10],
         "metric": (r.get("holdout") or {}).get("challenger", {}).get("metric"),
         "challenger": (r.get("holdout") or {}).get("challenger", {}).get("value"),
         "champion": (r.get("holdout") or {}).get("champion", {}).get("value"),
         "status": r["status"], "reason": r.get("reason")}
        for r in p["models"]
    ])


@command
def retrain(
    symbols: list[str] = typer.Option(None, "--symbols", "-s", help="Symbols (default: every daily symbol)."),
    only: list[str] = typer.Option(None, "--only", help="Retrain only these models (repeatable)."),
    seed: int = typer.Option(0, "--seed", help="Random seed passed to every trainer."),
    if_drift: bool = typer.Option(
        False, "--if-drift", help="Retrain only if features drifted or live accuracy dropped."
    ),
    check_only: bool = typer.Option(False, "--check", help="Only report drift and live accuracy."),
    holdout_bars: int = typer.Option(250, "--holdout-bars", help="Most recent bars held out per symbol."),
    min_improvement: float = typer.Option(
        0.0, "--min-improvement", help="How much better on the holdout a candidate must be to be promoted."
    ),
    min_new_bars: int = typer.Option(
        60, "--min-new-bars", help="New bars per symbol since the serving model that make the holdout."
    ),
    recent_bars: int = typer.Option(63, "--recent-bars", help="Recent window compared for drift."),
    psi_threshold: float = typer.Option(0.25, "--psi-threshold", help="PSI above which a feature drifted."),
    min_resolved: int = typer.Option(30, "--min-resolved", help="Resolved live calls needed to flag a drop."),
    as_json: bool = JsonOpt,
) -> None:
    """Retrain models on the data stored so far; promote a candidate only if it beats the serving one."""
    from paiid.engine import retrain as rt

    if check_only:
        payload = {"checks": rt.check(recent_bars=recent_bars, psi_threshold=psi_threshold,
                                      min_resolved=min_resolved)}
    else:
        payload = rt.retrain(
            symbols or None, seed=seed, only=only or None, holdout_bars=holdout_bars,
            min_improvement=min_improvement, if_drift=if_drift, recent_bars=recent_bars,
            psi_threshold=psi_threshold, min_resolved=min_resolved, min_new_bars=min_new_bars,
        )
    emit(payload, as_json, _render)


def register(root: typer.Typer) -> None:
    """Add `paiid retrain` to the root app."""
    root.command("retrain")(retrain)
