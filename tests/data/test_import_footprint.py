"""What `paiid data import` costs beyond its work: the CSV read's memory, the bench's peak figure, and
the libraries the command loads.

Why: the bench's 1M-bar import must stay under 500 MB and the unchanged re-import 5x faster than the
first, and the re-import is mostly Python start-up, so a heavy library imported on this path shows
up in every `paiid data import`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from paiid.bench.data import timed_import, write_bars_csv
from paiid.data.importer import _read_csv

ROWS = 25


def _dated(i: int) -> str:
    return f"2020-01-{1 + i % 28:02d}"


#: CSV texts whose pieces of 10 rows agree, or do not, on each column's type.
CSV_TEXTS = {
    "ohlcv": "date,open,high,low,close,volume\n"
             + "".join(f"{_dated(i)},1,2,0.5,1.5,{i}\n" for i in range(ROWS)),
    "text in one piece": "date,close\n" + "".join(f"{_dated(i)},{'x' if i == 17 else i}\n"
                                                  for i in range(ROWS)),
    "ints then floats": "date,close\n" + "".join(f"{_dated(i)},{i + (0.5 if i > 12 else 0)}\n"
                                                 for i in range(ROWS)),
    "a blank in the last piece": "date,close\n" + "".join(f"{_dated(i)},{'' if i == 20 else i}\n"
                                                          for i in range(ROWS)),
    "bools then a blank": "date,close,flag\n" + "".join(
        f"{_dated(i)},{i},{'' if i == 21 else ('True' if i % 2 else 'False')}\n" for i in range(ROWS)),
    "a row label column": "date,close\n" + "".join(f"{i},{_dated(i)},{i}\n" for i in range(ROWS)),
    "YYYYMMDD numbers": "date,close\n" + "".join(f"{20200101 + i},{i}\n" for i in range(ROWS)),
    "header only": "date,close\n",
}


@pytest.mark.parametrize("name", list(CSV_TEXTS))
def test_csv_read_in_pieces_is_the_whole_file_read(tmp_path: Path, name: str) -> None:
    """Each column comes out exactly as one `pd.read_csv` of the whole file reads it: values, dtype, index."""
    path = tmp_path / "bars.csv"
    path.write_text(CSV_TEXTS[name])
    with warnings.catch_warnings():  # pandas' DtypeWarning for mixed columns, whichever reader
        warnings.simplefilter("ignore")
        whole = pd.read_csv(path)
        pieces = _read_csv(path, chunk_rows=10)
    pd.testing.assert_frame_equal(pieces, whole, check_exact=True)
    pd.testing.assert_index_equal(pieces.index, whole.index, exact=True)


def test_bench_peak_is_the_import_process_own(tmp_path: Path) -> None:
    """A child's ru_maxrss starts at its spawner's high-water mark: with 400 MB touched here, a tiny
    import must still report its own peak (an interpreter with pandas and SQLAlchemy: ~150-200 MB)."""
    ballast = bytearray(400 * 2**20)
    ballast[::4096] = b"\1" * len(ballast[::4096])  # touch every page: resident, not just reserved
    home = tmp_path / "home"
    home.mkdir()
    csv = write_bars_csv(tmp_path / "small.csv", 200)
    first = timed_import(home, csv, "SMALL")
    assert first["result"]["inserted"] == 200
    assert 50 < first["peak_mb"] < 350
    del ballast


#: Libraries and layers `paiid data import` has no use for: models, optimisation, the cluster, the server.
NOT_NEEDED = ("sklearn", "scipy", "optuna", "dask", "distributed", "plotly", "talib", "hmmlearn", "skops",
              "arch", "backtesting", "skfolio", "fastapi", "uvicorn", "httpx", "paiid.features",
              "paiid.backtest", "paiid.ml", "paiid.engine", "paiid.api", "paiid.web")

_RUN_AND_LIST = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
sys.argv = ["paiid", *sys.argv[1:]]
from paiid.cli.main import main
main()
"""


def _modules_of_import(home: Path, csv: Path) -> set[str]:
    return _run_import(home, csv)[0]


def _run_import(home: Path, csv: Path) -> tuple[set[str], dict]:
    """The modules a `paiid data import ... --json` process held at exit, and its JSON answer."""
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1"}
    env.pop("PAIID_DATABASE_URL", None)
    argv = ["data", "import", str(csv), "--symbol", "FOOT", "--json"]
    proc = subprocess.run([sys.executable, "-c", _RUN_AND_LIST, *argv], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["rows"] == 100
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES "))), result


#: What the unchanged re-import has no use for: a database already at the head needs no migration
#: tool, and a file recognised by its key is neither read nor validated (no table library at all).
NOT_NEEDED_AGAIN = ("alembic", "mako", "pygments", "pandas", "numpy", "pyarrow", "paiid.data.validate")


def _heavy(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in loaded if any(m == n or m.startswith(n + ".") for n in names))


def test_data_import_loads_no_model_or_server_libraries(tmp_path: Path) -> None:
    """The first import and the recognised re-import, each its own `paiid data import` process."""
    home = tmp_path / "home"
    home.mkdir()
    csv = write_bars_csv(tmp_path / "bars.csv", 100)
    for _ in ("first import", "unchanged re-import"):
        loaded = _modules_of_import(home, csv)
        heavy = _heavy(loaded, NOT_NEEDED)
        assert not heavy, f"paiid data import loaded {heavy}"


def test_unchanged_reimport_loads_no_migration_tool_and_no_pandas(tmp_path: Path) -> None:
    """The first import of a fresh home migrates its database (Alembic) and reads the file (pandas);
    the re-import finds the database at the head with one query and the file by its key, and never
    imports Alembic, Mako, Pygments, pandas, numpy or pyarrow."""
    home = tmp_path / "home"
    home.mkdir()
    csv = write_bars_csv(tmp_path / "bars.csv", 100)
    first, answer = _run_import(home, csv)
    assert {"alembic", "pandas", "pyarrow"} <= first  # the check can fail: a first import loads them
    assert answer["up_to_date"] is False
    again, answer_again = _run_import(home, csv)
    assert answer_again["up_to_date"] is True
    assert {k: v for k, v in answer_again.items() if k not in ("inserted", "unchanged", "up_to_date")} == \
        {k: v for k, v in answer.items() if k not in ("inserted", "unchanged", "up_to_date")}
    assert not _heavy(again, NOT_NEEDED_AGAIN), f"the re-import loaded {_heavy(again, NOT_NEEDED_AGAIN)}"


def test_the_lazy_reexports_of_paiid_data_are_the_modules_own() -> None:
    """`paiid.data` re-exports on first use (so importing any `paiid.data.*` module loads no pandas):
    every name in `__all__` is the object its module defines, and an unknown name is still an error."""
    import paiid.data as data
    from paiid.data import repository, splits, validate

    owners = {"repository": repository, "splits": splits, "validate": validate}
    assert sorted(data._EXPORTS) == sorted(data.__all__)
    for name in data.__all__:
        assert getattr(data, name) is getattr(owners[data._EXPORTS[name]], name), name
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = data.no_such_name
