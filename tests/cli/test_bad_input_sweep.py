"""Every command that takes a symbol, given bad input, through the real `paiid` console script.

For each of features, backtest, regime, recommend, predict-trade, patterns and optimize: an unknown
symbol, an as-of date (`--date`, or `--end` for the commands that take a range) before the symbol has
enough history, a symbol whose whole history is too short (imported from a file: the only way to reach
`features`, which has no date option), a date that is no date and a date beyond the range timestamps can
hold (`9999-12-31`, `0001-01-01`, ...); and symbols that look like paths. Each must exit 2 with one line
`error: ...` on stderr naming the problem, print nothing on stdout (`--json` promises one document or
nothing), never show a traceback — and fail before any model is trained or loaded: the sweep runs in
an empty PAIID_HOME and checks that no model was registered, which is also what keeps it fast.
Usage mistakes caught by typer itself (missing option, bad value, unknown command) follow the same rule.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from paiid.data import load_bars

PAIID = str(Path(sys.executable).with_name("paiid"))

#: command -> (argv after the symbol, the option giving the as-of date, or None when it has none)
COMMANDS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "features": ((), None),
    "backtest": (("--strategy", "momentum-macd"), "--end"),
    "regime": ((), "--date"),
    "recommend": ((), "--date"),
    "predict-trade": (("--strategy", "momentum-macd", "--side", "long"), "--date"),
    "patterns": ((), "--date"),
    "optimize": (("--strategy", "momentum-macd", "--trials", "2", "--splits", "2"), "--end"),
}
#: 40 bars into SPX (it starts 1999-01-04): fewer than any command needs.
EARLY = "1999-03-01"
SHORT_BARS = 60


def paiid(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1"}
    env.pop("PAIID_DATABASE_URL", None)
    env.pop("PAIID_DEBUG", None)
    return subprocess.run([PAIID, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty PAIID_HOME (no models) holding one imported symbol, SHORT, with 60 bars."""
    home = tmp_path_factory.mktemp("sweep-home")
    csv = home / "short.csv"
    load_bars("SPX").iloc[-SHORT_BARS:].reset_index().to_csv(csv, index=False)
    out = paiid(home, "data", "import", str(csv), "--symbol", "SHORT", "--json")
    assert out.returncode == 0, out.stderr
    return home


@pytest.fixture(autouse=True)
def trains_nothing(home: Path) -> Iterator[None]:
    """After each test, whichever ran before it: its bad requests registered no model in the home."""
    yield
    assert not list((home / "models").glob("*/v*.json")), "a bad request trained or registered a model"


def _argv(command: str, symbol: str, date: str | None = None) -> list[str]:
    extra, date_opt = COMMANDS[command]
    argv = [command, symbol, *extra, "--json"]
    if date is not None:
        assert date_opt is not None
        argv += [date_opt, date]
    return argv


def _check_exit_2(out: subprocess.CompletedProcess, *needles: str) -> str:
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert out.stdout == ""
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr
    for needle in needles:
        assert needle in out.stderr, (needle, out.stderr)
    return out.stderr


@pytest.mark.parametrize("command", list(COMMANDS))
def test_unknown_symbol(home: Path, command: str) -> None:
    err = _check_exit_2(paiid(home, *_argv(command, "nope")), "unknown symbol 'NOPE'", "paiid data import")
    assert "SPX" in err  # names the symbols that do exist


@pytest.mark.parametrize("command", [c for c, (_, opt) in COMMANDS.items() if opt])
def test_date_before_enough_history(home: Path, command: str) -> None:
    _check_exit_2(paiid(home, *_argv(command, "SPX", EARLY)), "needs at least", "bars of history",
                  "are available")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_symbol_with_too_little_history(home: Path, command: str) -> None:
    _check_exit_2(paiid(home, *_argv(command, "SHORT")), "needs at least", f"only {SHORT_BARS} are available")


@pytest.mark.parametrize("command", [c for c, (_, opt) in COMMANDS.items() if opt])
def test_date_that_is_no_date(home: Path, command: str) -> None:
    _check_exit_2(paiid(home, *_argv(command, "SPX", "someday")), "someday")


#: One out-of-range date per dated command (all of them reached the same parser with a 500-like exit 1).
OUT_OF_RANGE = {"regime": "9999-12-31", "recommend": "0001-01-01", "predict-trade": "2999-01-01",
                "patterns": "2262-04-12", "backtest": "1677-09-21", "optimize": "9999-12-31"}


@pytest.mark.parametrize(("command", "date"), list(OUT_OF_RANGE.items()))
def test_date_beyond_the_representable_range(home: Path, command: str, date: str) -> None:
    _check_exit_2(paiid(home, *_argv(command, "SPX", date)), repr(date), "out of range", "1677-09-22",
                  "2262-04-11", "SPX has bars from 1999-01-04 to 2018-12-31")


def test_backtest_start_beyond_the_range(home: Path) -> None:
    _check_exit_2(paiid(home, "backtest", "SPX", "-s", "momentum-macd", "--start", "9999-12-31", "--json"),
                  "start date '9999-12-31' is out of range", "2262-04-11")


@pytest.mark.parametrize("symbol", ["", "sp x", ".."])
def test_malformed_symbol(home: Path, symbol: str) -> None:
    _check_exit_2(paiid(home, *_argv("regime", symbol)), "invalid symbol")


@pytest.mark.parametrize("symbol", ["..", "../../etc/passwd"])
def test_path_like_symbol_never_reaches_the_file_system(home: Path, symbol: str) -> None:
    """`paiid optimize ..` once wrote momentum-macd.json outside PAIID_HOME/optimize."""
    before = {p for p in home.parent.rglob("*") if p.is_file()}
    _check_exit_2(paiid(home, *_argv("optimize", symbol)), "invalid symbol", repr(symbol),
                  "'..' is not allowed")
    assert {p for p in home.parent.rglob("*") if p.is_file()} - before <= {home / "paiid.db"}


@pytest.mark.parametrize(("args", "needles"), [
    (("backtest", "SPX", "--json"), ("Missing option '--strategy'", "paiid backtest --help")),
    (("predict-trade", "SPX", "--json"), ("Missing option '--strategy'", "paiid predict-trade --help")),
    (("features", "SPX", "--tail", "0", "--json"), ("'--tail'", "paiid features --help")),
    (("backtest", "SPX", "-s", "momentum-macd", "--fraction", "abc", "--json"), ("'--fraction'",)),
    (("regime", "SPX", "--bogus", "--json"), ("No such option: --bogus",)),
    (("regime", "--json"), ("Missing argument",)),
    (("no-such-command",), ("No such command 'no-such-command'", "paiid --help")),
])
def test_usage_errors_are_one_line(home: Path, args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    """Mistakes typer/click catch (missing option, bad value, unknown command) follow the same contract."""
    _check_exit_2(paiid(home, *args), *needles)

