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
    part: list[str] = typer.Option(None, "--part", help="Only these parts (regime, selector, "
                                   "trade_probability, patterns, universe); repeatable."),
    plot: str = typer.Option(None, "--plot", help="Write the selector's out-of-sample equity curves "
                             "(ML vs random vs fixed templates vs buy-and-hold) to this HTML file."),
    as_json: bool = JsonOpt,
) -> None:
    """Out-of-sample scores of every model, each beside its baseline (trains the defaults if needed)."""
    from paiid.engine.evaluate import PARTS
    from paiid.engine.evaluate import evaluate as run_evaluation
    from paiid.engine.training import ensure_models
    from paiid.errors import BadInput

    unknown = sorted(set(part or []) - set(PARTS))
    if unknown:
        raise BadInput(f"unknown evaluate part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    if plot is not None and not plot.endswith(".html"):
        raise BadInput(f"--plot writes an HTML file: give a path ending in .html, not {plot!r}")
    ensure_models()
    emit(run_evaluation(parts=part or None, seed=seed, plot=plot), as_json, _render)


def register(root: typer.Typer) -> None:
    """Add `evaluate` to the root app."""
    root.command("evaluate")(evaluate)
