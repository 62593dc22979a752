"""`paiid bench`."""

from __future__ import annotations

import typer

from paiid.cli.common import JsonOpt, command, emit, table


@command
def bench(
    only: list[str] = typer.Option(None, "--only", help="Only cases whose name contains this."),
    as_json: bool = JsonOpt,
) -> None:
    """Speed ratios against named peers (ta, backtesting.py, ...) measured in the same run."""
    from paiid.bench.runner import run

    report = run(only)

    def render(r: dict) -> None:
        rows = [{
            "case": x["name"], "ours_ms": x["ours_s"] * 1e3,
            "peer": x["peer"], "peer_ms": None if x["peer_s"] is None else x["peer_s"] * 1e3,
            "ratio": x["ratio"], "target": x["target"], "ok": x["meets_target"],
        } for x in r["results"]]
        table(f"paiid bench — {r['machine']['date']}, {r['machine']['cpus']} cpus", rows)

    emit(report, as_json, render)


def register(root: typer.Typer) -> None:
    root.command("bench")(bench)
