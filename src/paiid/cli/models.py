"""`paiid train`, `paiid models list|promote|rollback` and `paiid track` (prediction log report)."""

from __future__ import annotations

from typing import Any

import typer

from paiid.cli.common import JsonOpt, command, console, emit, table

models_app = typer.Typer(help="List registered models, promote a version or roll back.", no_args_is_help=True)


def _day(ts: Any) -> str | None:
    return ts.date().isoformat() if ts is not None else None


def _train_payload(result: Any) -> dict[str, Any]:
    return {
        "symbols": list(getattr(result, "symbols", [])),
        "seed": getattr(result, "seed", 0),
        "refit_date": _day(getattr(result, "refit_date", None)),
        "models": [
            {"name": i.name, "version": i.version, "promoted": i.promoted, "created_at": i.created_at,
             "scores": i.scores, "sha256": i.sha256}
            for i in result
        ],
        "skipped": list(getattr(result, "skipped", [])),
        "skipped_symbols": list(getattr(result, "skipped_symbols", [])),
        # each kind of model (OHLCV, close-only panel) with its own symbols and refit date
        "groups": {k: {**g, "refit_date": _day(g.get("refit_date"))}
                   for k, g in (getattr(result, "groups", None) or {}).items()},
    }


def _render_train(p: dict[str, Any]) -> None:
    console.print(f"trained on {', '.join(p['symbols'])} (seed {p['seed']}), data up to the refit date "
                  f"{p.get('refit_date')}")
    for m in p["models"]:
        console.print(f"  {m['name']} v{m['version']}" + (" (promoted)" if m["promoted"] else ""))
        for k, v in _flat(m["scores"]).items():
            console.print(f"      {k}: {v:.4g}" if isinstance(v, float) else f"      {k}: {v}")
    for s in p["skipped"]:
        console.print(f"  skipped {s['name']}: {s['reason']}")
    for s in p["skipped_symbols"]:
        console.print(f"  not trained on {s['symbol']}: {s['reason']}")
    panel = p.get("groups", {}).get("close_only")
    if panel and panel["symbols"] != p["symbols"]:
        console.print(f"close-only models ({', '.join(panel['models'])}) on the closes of "
                      f"{', '.join(panel['symbols'])}, data up to {panel['refit_date']}", markup=False)
        for s in panel["skipped_symbols"]:
            console.print(f"  not in the close-only universe: {s['symbol']}: {s['reason']}", markup=False)


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix or "value": d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flat(v, key))
        elif not isinstance(v, list):
            out[key] = v
    return out


@command
def train(
    symbols: list[str] = typer.Option(
        None, "--symbols", "-s",
        help="Symbols to train on (repeat or comma-separate). Default: every symbol with daily bars.",
    ),
    more: list[str] = typer.Argument(
        None, metavar="SYMBOLS", help="More symbols (so `--symbols SPX GOOG` works).", show_default=False
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed passed to every trainer."),
    only: list[str] = typer.Option(None, "--only", help="Train only these models (repeatable)."),
    as_json: bool = JsonOpt,
) -> None:
    """Train every model and promote the new versions together (or none if one fails); print versions
    and scores, and the stored symbols left out because they are too short or unusable."""
    from paiid.engine.training import train_all

    only_names = [n.strip() for o in (only or []) for n in o.split(",") if n.strip()] or None
    result = train_all([*(symbols or []), *(more or [])] or None, seed=seed, only=only_names)
    emit(_train_payload(result), as_json, _render_train)


@models_app.command("list")
@command
def list_(as_json: bool = JsonOpt) -> None:
    """Every registered model with its versions, which one serves, and whether each passes the checks
    loading does (hash, exact types, model class, fitted state): status ok, refused or corrupt."""
    from paiid.engine.registry import list_models

    payload = {"models": list_models()}

    def render(p: dict[str, Any]) -> None:
        rows = [
            {"model": m["name"], "version": v["version"], "serving": "*" if v["promoted"] else "",
             "status": v["status"], "created_at": v.get("created_at"),
             "data up to": (v.get("refit_date") or "") + (" (past-date refit)" if v.get("vintage") else ""),
             "scores": ", ".join(f"{k}={x:.3g}" if isinstance(x, float) else f"{k}={x}"
                                 for k, x in list(_flat(v.get("scores") or {}).items())[:4])}
            for m in p["models"] for v in m["versions"]
        ]
        table("models", rows)
        for m in p["models"]:
            for v in m["versions"]:
                if v.get("problem"):
                    console.print(f"{m['name']} v{v['version']} {v['status']}: {v['problem']}", markup=False)

    emit(payload, as_json, render)


@models_app.command("promote")
@command
def promote(
    name: str = typer.Argument(..., help="Model name, e.g. regime."),
    version: int = typer.Argument(..., help="Version number to serve."),
    as_json: bool = JsonOpt,
) -> None:
    """Serve VERSION of NAME (checked to verify and load first)."""
    from paiid.engine import registry

    info = registry.promote(name, version)
    emit({"name": info.name, "promoted": info.version}, as_json,
         lambda p: console.print(f"{p['name']}: now serving v{p['promoted']}"))


@models_app.command("rollback")
@command
def rollback(name: str = typer.Argument(..., help="Model name."), as_json: bool = JsonOpt) -> None:
    """Serve the newest good version older than the one serving now."""
    from paiid.engine import registry

    before = registry.promoted_version(name)
    info = registry.rollback(name)
    emit({"name": info.name, "promoted": info.version, "previous": before}, as_json,
         lambda p: console.print(f"{p['name']}: rolled back from v{p['previous']} to v{p['promoted']}"))


@command
def track(as_json: bool = JsonOpt) -> None:
    """Resolve logged predictions whose horizon has passed and print live performance, with the decision
    journal (adoption and outcomes of what users did with the answers)."""
    from paiid.cli.journal import render_journal
    from paiid.engine import tracking

    resolution = tracking.resolve()
    report = {"resolution": resolution, **tracking.performance_report()}

    def render(p: dict[str, Any]) -> None:
        n = p["predictions"]
        console.print(f"predictions: {n['total']} logged, {n['resolved']} resolved, {n['pending']} pending "
                      f"({p['resolution']['resolved']} resolved just now)")
        acc = p["accuracy"]["overall"]
        if acc["accuracy"] is not None:
            console.print(f"live accuracy {acc['accuracy']:.3f} on {acc['n']} directional calls "
                          f"(always-long baseline {acc['baseline_always_long']:.3f})")
        table("by model version", p["by_model"])
        table("calibration", p["calibration"]["bins"])
        ab = p["ab_test"]
        table("A/B groups", [{"group": g, **v} for g, v in ab["groups"].items()])
        for key in ("accuracy_test", "return_test"):
            t = ab[key]
            console.print(f"{t['test']}: p={t['p_value']}" if t["p_value"] is not None
                          else f"{t['test']}: {t.get('note')}")
        render_journal(p["journal"])

    emit(report, as_json, render)


def register(root: typer.Typer) -> None:
    """Add `train`, `models` and `track` to the root app."""
    root.command("train")(train)
    root.add_typer(models_app, name="models")
    root.command("track")(track)
