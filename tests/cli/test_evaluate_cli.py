"""`paiid evaluate [--part P] [--plot FILE.html] [--json]` through the real installed command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paiid.bench.api import linked_home

PAIID = str(Path(sys.executable).with_name("paiid"))


def paiid(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1"}
    env.pop("PAIID_DATABASE_URL", None)
    return subprocess.run([PAIID, *args], capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.parametrize(("args", "needle"), [
    (("--part", "nonsense"), "unknown evaluate part(s) nonsense; choose from regime, selector"),
    (("--plot", "curves.png"), "ending in .html"),
])
def test_bad_options_exit_2_before_anything_is_trained(
        tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    out = paiid(tmp_path, "evaluate", *args, "--json")
    assert out.returncode == 2, out.stderr
    assert out.stdout == "" and out.stderr.startswith("error: ") and needle in out.stderr
    assert not (tmp_path / "models").exists()


def test_selector_part_writes_the_equity_plot(
        trained: Path, tmp_path: Path) -> None:
    home = linked_home(trained, tmp_path / "home")
    plot = tmp_path / "curves.html"
    out = paiid(home, "evaluate", "--part", "selector", "--plot", str(plot), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [k for k in report if k != "skipped_symbols"] == ["selector"]  # only the part asked for
    assert all(s["reason"].startswith("close-only") for s in report.get("skipped_symbols", []))
    sel = report["selector"]
    assert {"top1_accuracy", "majority_baseline", "random_baseline", "oos_sharpe"} <= set(sel)
    html = plot.read_text()
    # one curve per line of the comparison the issue asks for, drawn by the inlined plotly.js
    assert "Plotly.newPlot" in html
    for name in ("ML", "random", "buy"):
        assert name in html
