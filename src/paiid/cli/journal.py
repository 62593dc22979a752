"""`paiid journal add|list|simulate`: the decision journal (what was done with each served answer).

Thin commands: `paiid.engine.journal.record` validates (exit 2 with the reason) and stores, the ledger
resolves outcomes from the stored bars, `paiid.engine.journal.simulate` replays a synthetic user; these
parse and render. `render_journal` draws the report's journal section for `paiid track` too.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from paiid.cli.common import JsonOpt, command, console, emit, table

journal_app = typer.Typer(help="Record what you did with an answer (adopt, pass, ...) and see how it went.",
                          no_args_is_help=True)


def _pct(v: Any) -> str:
    return "" if v is None else f"{100 * v:.1f}%"


def _ci(ci: Any) -> str:
    return "" if not ci else f"{100 * ci[0]:.1f}% to {100 * ci[1]:.1f}%"


def render_journal(j: dict[str, Any]) -> None:
    """The journal section of the performance report as tables, then its plain sentences."""
    sim, total = j["sources"].get("simulated", 0), j["entries"]
    label = ("" if not sim else " (SIMULATED user, not real users)" if sim == total
             else f" (includes {sim} SIMULATED entries of {total})")
    ad = j["adoption"]
    console.print(f"[bold]decision journal{label}[/bold]: {j['entries']} entries "
                  f"({j['superseded']} superseded)")
    rows = [{"of": "all", "group": "", "rate": _pct(ad["rate"]), "95% CI": _ci(ad["ci"]),
             "adopted": ad["adopted"], "n": ad["n"]}]
    for key in ("by_template", "by_regime", "by_group"):
        of = {"by_group": "A/B group"}.get(key, key[3:])
        rows += [{"of": of, "group": g, "rate": _pct(v["rate"]), "95% CI": _ci(v["ci"]),
                  "adopted": v["adopted"], "n": v["n"]} for g, v in ad[key].items()]
    table(f"adoption of the top recommendation{label}", rows)
    out = []
    for name, g in j["outcomes"]["groups"].items():
        m, s = g.get("mean_return") or {}, g.get("sharpe_per_trade") or {}
        out.append({
            "trades": name, "resolved": g["resolved"], "open": g["open"], "win rate": _pct(g["win_rate"]),
            "win 95% CI": _ci(g["win_rate_ci"]), "mean return": _pct(m.get("estimate")),
            "mean 95% CI": _ci(m.get("ci95")), "Sharpe/trade": s.get("estimate"),
            "Sharpe 95% CI": "" if not s.get("ci95") else f"{s['ci95'][0]:+.2f} to {s['ci95'][1]:+.2f}",
        })
    table(f"outcomes (triple barrier, returns net of costs){label}", out)
    diffs = [{"test": f"{d['a']} - {d['b']}", "win rate diff": _pct(d.get("win_rate_difference")),
              "p (z-test)": d.get("win_rate_p_value"), "return diff": _pct(d.get("return_difference")),
              "p (Welch)": d.get("return_p_value"),
              "verdict": "significant" if d["significant"] else ("not significant" if d["win_rate_p_value"]
                                                                  is not None else d.get("note"))}
             for d in j["outcomes"]["differences"].values()]
    table(f"differences{label}", diffs)
    cal = j["calibration"]
    if cal["n"]:
        table(f"calibration of the shown win probability{label} (Brier {cal['brier']:.3f}, base rate "
              f"{cal['baseline_brier']:.3f})", cal["bins"])
    for line in j["summary"]:
        console.print(escape(line))


def _render_entries(p: dict[str, Any]) -> None:
    rows = [{"id": e["id"], "answer": e["prediction_id"], "symbol": e.get("symbol"), "action": e["action"],
             "template": e["template"], "side": e["side"], "from": e["entry_date"], "status": e["status"],
             "return": _pct((e.get("outcome") or {}).get("return")),
             "exit": (e.get("outcome") or {}).get("exit_date"), "corrects": e["supersedes"],
             "user": e["user_id"] if e["source"] == "user" else f"{e['user_id']} (sim)"}
            for e in p["entries"]]
    table("journal (newest first; pass: what the advice would have returned)", rows)


def _render_added(e: dict[str, Any]) -> None:
    console.print(f"journal entry {e['id']}: {e['action']} on prediction {e['prediction_id']} "
                  f"({escape(str(e['template'] or 'own rule'))} {e['side'] or ''}, from {e['entry_date']}), "
                  f"status {e['status']}"
                  + (f", supersedes entry {e['supersedes']}" if e["supersedes"] is not None else ""))


@journal_app.command("add")
@command
def add(
    prediction_id: int = typer.Option(..., "--prediction-id", "-p",
                                      help="The prediction_id of the served answer (in its --json output)."),
    action: str = typer.Option(..., "--action", "-a", help="adopt, adopt_other, manual or pass."),
    template: str | None = typer.Option(None, "--template",
                                        help="Strategy id (adopt_other) or your rule (manual)."),
    side: str | None = typer.Option(None, "--side",
                                    help="long or short (adopt: the answer's; manual: needed)."),
    entry: float | None = typer.Option(None, "--entry", help="Entry price (default: that date's close)."),
    stop: float | None = typer.Option(None, "--stop", help="Stop price (default: the trade model's 2 ATR)."),
    target: float | None = typer.Option(None, "--target", help="Target price (default: 2 ATR)."),
    entry_date: str | None = typer.Option(None, "--entry-date", help="YYYY-MM-DD the decision was taken at "
                                          "the close of (default: the answer's as-of date)."),
    supersedes: int | None = typer.Option(None, "--supersedes", help="Id of the entry this one corrects."),
    note: str | None = typer.Option(None, "--note", help="Free text."),
    user: str | None = typer.Option(None, "--user", help="User id (default: the answer's)."),
    as_json: bool = JsonOpt,
) -> None:
    """Record what you did with a served answer. Entries are append-only: correct one with --supersedes."""
    from paiid.engine.journal import record

    stored = record.add(prediction_id, action, template=template, side=side, entry=entry, stop=stop,
                        target=target, entry_date=entry_date, supersedes=supersedes, note=note, user_id=user)
    emit(stored, as_json, _render_added)


@journal_app.command("list")
@command
def list_(
    limit: int = typer.Option(100, "--limit", help="How many of the newest entries (1-1000)."),
    user: str | None = typer.Option(None, "--user", help="Only this user's entries."),
    as_json: bool = JsonOpt,
) -> None:
    """List journal entries, newest first, with their status and outcome from the stored bars."""
    from paiid.engine.journal import record

    emit({"entries": record.list_entries(limit=limit, user=user, outcome=True)}, as_json, _render_entries)


@journal_app.command("simulate")
@command
def simulate(
    symbol: str = typer.Option("SPX", "--symbol", help="Symbol to replay."),
    start: str | None = typer.Option(None, "--start", help="First decision date (default: one quarter before "
                                     "--end, so one point-in-time refit of the models is needed)."),
    end: str | None = typer.Option(None, "--end", help="Last decision date (default: the last bar)."),
    every: int = typer.Option(2, "--every", help="Decide on every N-th bar."),
    adopt: float = typer.Option(0.6, "--adopt", help="Probability of adopting the recommendation."),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic user's choices."),
    user: str | None = typer.Option(None, "--user", help="User id to journal as (default simulated-SEED)."),
    as_json: bool = JsonOpt,
) -> None:
    """Replay a seeded SIMULATED user over past dates and print the journal report of its entries.

    On each date it asks for the recommendation as of that date (logged), adopts it with probability
    --adopt (the top template on its rule's side, the trade model's 2-ATR barriers), else trades long when
    the close is above its 50-day average, else passes. Each refit period (quarter) before the models'
    refit date needs a point-in-time refit of the selector and regime models (about a minute on two
    cores, kept for later runs): the default replays the last quarter; --start 2015-01-01 fits ~16.
    """
    from paiid.engine.journal.simulate import simulate as run

    def render(p: dict[str, Any]) -> None:
        console.print(f"[bold]SIMULATED user {escape(p['user_id'])}[/bold] on {p['symbol']} from "
                      f"{p['start']} to {p['end']} every {p['every']} bars (adopt probability "
                      f"{p['adopt_probability']:g}, seed {p['seed']}): {p['decisions']} decisions "
                      f"{p['actions']}; manual rule: {p['manual_rule']}")
        for s in p["skipped"]:
            console.print(f"skipped {s['date']}: {escape(s['reason'])}")
        render_journal(p["journal"])

    emit(run(symbol, start, end, every=every, adopt=adopt, seed=seed, user_id=user), as_json, render)


def register(root: typer.Typer) -> None:
    """Add `journal` to the root app."""
    root.add_typer(journal_app, name="journal")
