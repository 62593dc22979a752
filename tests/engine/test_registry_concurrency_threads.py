"""Threads of one process loading models at once, as an API worker's thread pool does under a burst.

Why: the load test (`tests/api/test_load.py`, 2 uvicorn workers, 240 requests) got an HTTP 503 in
about one full run out of three: "model file of 'selector' v2 ... could not be loaded: SystemError:
AST constructor recursion depth mismatch (before=147, after=142)". Cold past-date requests each
loaded the same point-in-time refit on their own thread; numpy parses every array header with
`ast.literal_eval`, and CPython 3.11's AST constructor keeps its recursion-depth counter per
interpreter, not per thread, so a thread switch inside one parse (a garbage collection running a
finalizer is enough) corrupts another thread's parse. `registry.load` now instantiates one model at a
time per process.

The child process makes that interleaving frequent instead of rare, the way a busy server does: tiny
switch interval, cyclic garbage with a finalizer, threads at different stack depths. Nothing of ours is
mocked: the real trained model, the real `registry.load`. Measured without the lock: 7-11 failed loads
in each of 3 thirty-second runs here (tradeprob, 8 threads, ~55 loads each); with it, none.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from paiid.bench.api import child_env, linked_home

pytestmark = pytest.mark.slow

SECONDS = 30
THREADS = 8

CHILD = r"""
import gc, json, sys, threading, time
from paiid.engine import registry
name, seconds, threads = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
version = registry.promoted_version(name)
registry.load(name, version)  # every module skops needs is imported before the threads start

class Garbage:  # what a busy server has plenty of: cycles whose finalizer runs Python code
    def __init__(self):
        self.me = self
    def __del__(self):
        sum(range(20))

gc.set_threshold(100)
sys.setswitchinterval(1e-6)
errors, loads = [], []
deadline = time.monotonic() + seconds

def deep(n, f):
    return deep(n - 1, f) if n else f()

def run(depth):
    def body():
        while time.monotonic() < deadline:
            Garbage()
            try:
                registry.load(name, version)
                loads.append(1)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"[:400])
    deep(depth, body)

ts = [threading.Thread(target=run, args=(5 + 9 * i,)) for i in range(threads)]
[t.start() for t in ts]
[t.join() for t in ts]
print(json.dumps({"loads": len(loads), "errors": errors}))
"""


def test_threads_loading_one_model_at_once_all_get_it(trained: Path, tmp_path: Path) -> None:
    home = linked_home(trained, tmp_path / "home")  # only reads the shared models
    out = subprocess.run([sys.executable, "-c", CHILD, "tradeprob", str(SECONDS), str(THREADS)],
                         env=child_env(home), capture_output=True, text=True, timeout=600,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert report["loads"] >= 2 * THREADS, report  # the threads really did load, many times
    assert report["errors"] == [], report["errors"][:3]
