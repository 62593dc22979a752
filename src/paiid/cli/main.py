"""Entry point of the `paiid` command. Each command group lives in its own module with `register()`.

The command modules import the heavy libraries (scikit-learn, optuna, dask) inside their commands, not at
the top: importing everything costs about 2 s of CPU, which every `paiid data list` would pay.
"""

from __future__ import annotations

import sys

import typer

from paiid.cli import (
    backtest,
    bench,
    data,
    evaluate,
    features,
    journal,
    models,
    optimize,
    patterns,
    recommend,
    regime,
    retrain,
    scan,
    serve,
)

app = typer.Typer(
    name="paiid",
    help="PaiiD ML strategy engine: data, features, backtests, regimes, recommendations, patterns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: In the order `paiid --help` lists them.
COMMAND_MODULES = (data, features, backtest, regime, recommend, patterns, scan, models, evaluate, optimize,
                   retrain, bench, serve, journal)

for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    """Run the CLI; a usage error (unknown command or option, missing or invalid value) is one line.

    Why not click's own report: it draws a multi-line box, while the contract promises a one-line
    `error: ...` on stderr with exit 2 for every bad input, whichever layer notices it. Typer vendors
    its own click, so its exceptions are recognised by what they offer (`format_message`, `exit_code`).
    """
    try:
        code = app(standalone_mode=False)
    except Exception as exc:
        message, exit_code = getattr(exc, "format_message", None), getattr(exc, "exit_code", None)
        if not callable(message) or not isinstance(exit_code, int):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `paiid`: the help is printed already
            sys.exit(exit_code)
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else " (see `paiid --help`)"
        text = " ".join(f"{message()}{where}".split())
        print(f"error: {text}", file=sys.stderr)
        sys.exit(exit_code)
    sys.exit(code if isinstance(code, int) else 0)
