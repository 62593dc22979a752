"""`paiid bench` runs every area's cases in the report's order, and `--only` narrows them by name."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from paiid.bench import api, runner
from paiid.bench.api import paiid_command

#: The order of the report's sections (README → Results, Speed).
REPORT_ORDER = [
    "features", "backtest", "sweep", "regime", "patterns", "vintages", "scan", "universe", "api", "optimize",
    "data",
]


def _area(fn) -> str:
    return fn.__module__.rsplit(".", 1)[1]


def test_every_module_with_cases_runs_in_report_order() -> None:
    bench_dir = Path(runner.__file__).parent
    with_cases = {p.stem for p in bench_dir.glob("*.py") if re.search(r"^@case\(", p.read_text(), re.M)}
    areas = [_area(fn) for _, fn in runner.selected()]
    assert set(areas) == with_cases  # no area module is left out of the run
    assert areas == sorted(areas, key=REPORT_ORDER.index)


def test_only_selects_by_part_of_the_name() -> None:
    names = [name for name, _ in runner.selected(["regime"])]
    assert names and all("regime" in n for n in names)
    assert [fn for _, fn in runner.selected(["api"])] == [api.bench_api]
    assert runner.selected(["no-such-case"]) == []


def test_cli_only_with_no_match_reports_the_machine_and_no_rows(paiid_home: Path) -> None:
    out = subprocess.run(paiid_command("bench", "--only", "no-such-case", "--json"),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["results"] == [] and report["machine"]["cpus"] >= 1
