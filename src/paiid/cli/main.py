"""Entry point of the `paiid` command. Each command group lives in its own module with `register()`."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="paiid",
    help="PaiiD ML strategy engine: data, features, backtests, regimes, recommendations, patterns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = [
    "data", "features", "backtest", "regime", "recommend", "patterns", "models", "evaluate", "optimize",
    "retrain", "bench", "serve",
]

for _name in COMMAND_MODULES:
    importlib.import_module(f"paiid.cli.{_name}").register(app)


def main() -> None:
    app()
