"""`paiid evaluate`: the honest out-of-sample report, composed in `paiid.engine.evaluate`."""

from __future__ import annotations

from typing import Any

import typer

from paiid.cli.common import JsonOpt, command, console, emit


def _render(report: dict[str, Any], prefix: str = "") -> None:
    for key, value in report.items():
        if isinstance(value, dict):
            console.print(f"{prefix}[bold]{key}[/bold]")
            _render(value, prefix + "  ")
        elif isinstance(value, list):
            console.print(f"{prefix}{key}: {len(value)} item(s)")
        elif isinstance(value, float):
            console.print(f"{prefix}{key}: {value:.4g}")
        else:
            console.print(f"{prefix}{key}: {value}")


@command
def evaluate(
    seed: int = typer.Option(0, "--seed", help="Random seed for every part of the evaluation."),
    as_json: bool = JsonOpt,
) -> None:
    """Out-of-sample scores of every model, each beside its baseline (trains the defaults if needed)."""
    from paiid.engine.evaluate import evaluate as run_evaluation
    from paiid.engine.training import ensure_models

    ensure_models()
    emit(run_evaluation(seed=seed), as_json, _render)


def register(root: typer.Typer) -> None:
    """Add `evaluate` to the root app."""
    root.command("evaluate")(evaluate)
