"""What every CLI command shares: `--json` output, exit codes and error messages.

Contract: with `--json` exactly one JSON document goes to stdout; exit 0 on success, 2 on bad
input with a one-line `error: ...` on stderr, 1 on internal failure (never a traceback unless
PAIID_DEBUG is set).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from paiid import config
from paiid.errors import PaiidError
from paiid.jsonutil import to_jsonable

console = Console()
err_console = Console(stderr=True)

JsonOpt = typer.Option(False, "--json", help="Print exactly one JSON document on stdout.")


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn paiid's errors into the contract's exit codes and one-line messages."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = False
        try:
            # first, so that a bad PAIID_*/TRADIER_* variable stops the command with one line
            debug = config.settings().debug
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except PaiidError as exc:
            fail(exc.message.replace("\n", " "), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as exc:  # noqa: BLE001 - the contract forbids tracebacks
            if debug:
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} (set PAIID_DEBUG=1 for a traceback)", 1)

    return wrapper


def emit(payload: Any, as_json: bool, render: Callable[[Any], None] | None = None) -> None:
    """Print `payload` as JSON (stdout) or through `render` as human-readable text."""
    if as_json or render is None:
        sys.stdout.write(json.dumps(to_jsonable(payload), indent=2, allow_nan=False) + "\n")
        sys.stdout.flush()
    else:
        render(payload)


def table(title: str, rows: list[dict], columns: list[str] | None = None) -> None:
    """Render a list of dicts as a rich table on stdout.

    Every cell is escaped: values come from users (file names, symbols, reasons), and rich would
    otherwise render `[reverse]BOOM.csv` as styling instead of showing it.
    """
    if not rows:
        console.print(escape(f"{title}: (none)"))
        return
    columns = columns or list(rows[0])
    t = Table(title=escape(title))
    for c in columns:
        t.add_column(escape(c))
    for r in rows:
        t.add_row(*[escape(_fmt(r.get(c))) for c in columns])
    console.print(t)


def _fmt(v: Any) -> str:
    v = to_jsonable(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def parse_params(pairs: list[str] | None) -> dict[str, float]:
    """`--param k=v` pairs into a dict of numbers."""
    out: dict[str, float] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PaiidError(f"bad --param {pair!r}: use name=value")
        try:
            num = float(value)
        except ValueError:
            raise PaiidError(f"bad --param {pair!r}: value must be a number") from None
        out[key.strip()] = int(num) if num.is_integer() else num
    return out


def provenance(p: dict[str, Any]) -> None:
    """The lines every answer ends with: which model versions served it, fitted on data up to when
    (point in time), and a warning when its inputs are unlike anything the model was trained on."""
    models = p.get("models") or ({"": p["model"]} if isinstance(p.get("model"), dict) else {})
    parts = []
    for m in models.values():
        kind = "point-in-time refit" if m.get("vintage") else "current"
        parts.append(f"{m.get('name')} v{m.get('version')} fitted on data up to {m.get('refit_date')} "
                     f"({kind})")
    if parts:
        console.print("models: " + "; ".join(escape(x) for x in parts))
    typ = p.get("typicality")
    if isinstance(typ, dict) and typ.get("unusual"):
        console.print(f"[bold yellow]warning:[/bold yellow] {escape(str(typ.get('note')))}")
    if p.get("prediction_id") is not None:  # the id a journal entry names (paiid journal add)
        pid = p["prediction_id"]
        console.print(f"logged as prediction {pid} (record what you did with it: "
                      f"paiid journal add --prediction-id {pid} --action adopt|pass)")
