"""Every test gets its own PAIID_HOME (database file and model directory) so none touches a user's data.

Tests that need trained models share one home trained once per session (`trained`) and serve it
through `paiid.bench.api.linked_home`, which gives each of them its own database and prediction log.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from filelock import FileLock
from xdist import is_xdist_worker

from paiid.bench.api import child_env, paiid_command

#: The symbols the shared models are trained on.
TRAINED_SYMBOLS = ("SPX",)


@pytest.fixture(autouse=True)
def paiid_home(tmp_path, monkeypatch):
    home = tmp_path / "paiid_home"
    home.mkdir()
    monkeypatch.setenv("PAIID_HOME", str(home))
    monkeypatch.delenv("PAIID_DATABASE_URL", raising=False)
    monkeypatch.setenv("PAIID_QUIET", "1")
    return home


@pytest.fixture(scope="session")
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PAIID_HOME with the default models trained on SPX by `paiid train`, once per pytest session.

    Why once: training is the slowest step of the suite. Under pytest-xdist each worker has its own
    basetemp inside the session's directory, so the home lives in that parent: the first worker to
    get here trains under an exclusive file lock and leaves a marker, the others wait on the lock and
    reuse the models. Tests read this home (directly or through `linked_home`) and never write to it.
    """
    root = tmp_path_factory.getbasetemp()
    if is_xdist_worker(request):
        root = root.parent
    home = root / f"trained-{'-'.join(TRAINED_SYMBOLS)}"
    home.mkdir(exist_ok=True)
    marker = home / ".trained"
    with FileLock(home / ".train.lock"):
        if not marker.exists():
            out = subprocess.run(
                paiid_command("train", "--symbols", *TRAINED_SYMBOLS, "--json"),
                env=child_env(home), capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
            )
            if out.returncode != 0:
                raise RuntimeError(f"paiid train failed ({out.returncode}):\n{out.stderr[-4000:]}")
            marker.write_text(out.stdout)
    return home
