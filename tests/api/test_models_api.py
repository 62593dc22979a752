"""`/api/ml/models`, `/api/ml/train` (API key, background job), `/api/ml/performance` on the real app.

Training uses the tiny logistic-regression trainers of `tests/engine/tiny_trainers.py` through the real
orchestration and registry; the job runs in the server's background thread and is polled over HTTP.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
import tiny_trainers  # noqa: E402

from paiid.api.app import create_app  # noqa: E402
from paiid.engine import registry, service, tracking, training  # noqa: E402

KEY = "s3cret-key"


@pytest.fixture
def client(monkeypatch):
    tiny_trainers.use(monkeypatch)
    service.clear_cache()
    with TestClient(create_app()) as c:
        yield c


def wait_for(client: TestClient, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/api/ml/train/{job_id}")
        assert r.status_code == 200
        job = r.json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_train_needs_a_configured_key(client, monkeypatch):
    monkeypatch.delenv("PAIID_API_KEY", raising=False)
    r = client.post("/api/ml/train", headers={"X-API-Key": "anything"})
    assert r.status_code == 401 and "no API key configured" in r.json()["detail"]
    monkeypatch.setenv("PAIID_API_KEY", KEY)
    r = client.post("/api/ml/train")
    assert r.status_code == 401 and "missing X-API-Key" in r.json()["detail"]
    r = client.post("/api/ml/train", headers={"X-API-Key": KEY + "x"})
    assert r.status_code == 401 and "wrong X-API-Key" in r.json()["detail"]
    assert not registry.has_model("regime")


def test_train_job_lifecycle_and_listing(client, monkeypatch):
    monkeypatch.setenv("PAIID_API_KEY", KEY)
    assert client.get("/api/ml/models").json() == {"models": []}
    r = client.post("/api/ml/train", headers={"X-API-Key": KEY}, json={"symbols": ["SPX"], "seed": 4})
    assert r.status_code == 202
    job_id = r.json()["job_id"]
    assert r.json()["status_url"] == f"/api/ml/train/{job_id}"
    job = wait_for(client, job_id)
    assert job["status"] == "done", job
    expected = [("regime", 1), ("pattern_scorer", 1), ("selector", 1), ("tradeprob", 1)]
    assert [(m["name"], m["version"]) for m in job["models"]] == expected
    assert job["skipped"] == [] and job["request"]["seed"] == 4
    assert registry.describe("regime", 1).metadata["training"]["seed"] == 4
    listing = {m["name"]: m for m in client.get("/api/ml/models").json()["models"]}
    assert set(listing) == {"regime", "pattern_scorer", "selector", "tradeprob"}
    assert listing["regime"]["promoted"] == 1 and listing["regime"]["versions"][0]["status"] == "ok"
    # no body at all: defaults (daily symbols), new versions
    job = wait_for(client, client.post("/api/ml/train", headers={"X-API-Key": KEY}).json()["job_id"])
    assert job["status"] == "done" and job["symbols"] == training.usable_symbols()[0]
    assert registry.promoted_version("regime") == 2


def test_train_bad_requests(client, monkeypatch):
    monkeypatch.setenv("PAIID_API_KEY", KEY)
    r = client.post("/api/ml/train", headers={"X-API-Key": KEY}, json={"symbols": ["NOSUCH"]})
    assert r.status_code == 404 and "NOSUCH" in r.json()["detail"]
    r = client.post("/api/ml/train", headers={"X-API-Key": KEY}, json={"only": ["bogus"]})
    assert r.status_code == 422 and "unknown model" in r.json()["detail"]
    r = client.post("/api/ml/train", headers={"X-API-Key": KEY}, json={"seed": -1})
    assert r.status_code == 422
    assert client.get("/api/ml/train/" + "0" * 32).status_code == 404
    r = client.get("/api/ml/train/../../etc")
    assert r.status_code == 404


def test_failed_job_reports_why(client, monkeypatch):
    monkeypatch.setenv("PAIID_API_KEY", KEY)
    monkeypatch.setitem(training.TRAINERS, "regime", tiny_trainers.train_broken)
    r = client.post("/api/ml/train", headers={"X-API-Key": KEY}, json={"symbols": ["SPX"]})
    job = wait_for(client, r.json()["job_id"])
    assert job["status"] == "failed" and "always fails" in job["error"]


def test_performance_endpoint(client):
    tracking.log_prediction("trade", "SPX", {"as_of": "2018-03-01", "side": "long", "win_probability": 0.7,
                                             "horizon_bars": 3}, user_id="carol")
    r = client.get("/api/ml/performance")
    assert r.status_code == 200
    doc = r.json()
    assert doc["resolution"] == {"resolved": 1, "pending": 0}
    assert doc["predictions"] == {"total": 1, "resolved": 1, "pending": 0}
    for key in ("accuracy", "calibration", "by_model", "ab_test", "feature_importance"):
        assert key in doc
    assert client.get("/api/ml/performance?resolve=false").json()["resolution"] is None
    assert "/api/ml/performance" in client.get("/openapi.json").json()["paths"]


def _import_short(tmp_path) -> None:
    from typer.testing import CliRunner

    from paiid.cli.main import app
    from paiid.data import load_bars

    path = tmp_path / "short.csv"
    load_bars("SPX").iloc[-28:].rename_axis("date").reset_index().to_csv(path, index=False)
    res = CliRunner().invoke(app, ["data", "import", str(path), "--symbol", "SHORT"])
    assert res.exit_code == 0, res.stderr


def test_symbols_are_checked_up_front_and_an_empty_list_is_not_all(client, monkeypatch, tmp_path):
    monkeypatch.setenv("PAIID_API_KEY", KEY)
    _import_short(tmp_path)
    r = client.post("/api/ml/train", headers={"X-API-Key": KEY}, json={"symbols": []})
    assert r.status_code == 422 and "omit it" in r.json()["detail"] and "every symbol" in r.json()["detail"]
    r = client.post("/api/ml/train", headers={"X-API-Key": KEY}, json={"symbols": ["SPX", "SHORT"]})
    assert r.status_code == 422, r.text
    assert "SHORT" in r.json()["detail"] and "only 28" in r.json()["detail"]
    assert not registry.has_model("regime")
    # the default set skips the short import and says so
    job = wait_for(client, client.post("/api/ml/train", headers={"X-API-Key": KEY}).json()["job_id"])
    assert job["status"] == "done" and job["symbols"] == ["SPX", "GOOG"]
    short = [s["symbol"] for s in job["skipped_symbols"] if not s["reason"].startswith("close-only")]
    assert short == ["SHORT"]


def test_failed_job_promotes_none_of_its_models(client, monkeypatch):
    monkeypatch.setenv("PAIID_API_KEY", KEY)
    job = wait_for(client, client.post("/api/ml/train", headers={"X-API-Key": KEY},
                                       json={"symbols": ["SPX"]}).json()["job_id"])
    assert job["status"] == "done"
    monkeypatch.setitem(training.TRAINERS, "selector", tiny_trainers.train_broken)
    job = wait_for(client, client.post("/api/ml/train", headers={"X-API-Key": KEY},
                                       json={"symbols": ["SPX"]}).json()["job_id"])
    assert job["status"] == "failed" and "always fails" in job["error"]
    assert registry.versions("regime") == [1, 2]  # trained in the failed run, not promoted
    listing = {m["name"]: m["promoted"] for m in client.get("/api/ml/models").json()["models"]}
    assert listing == {"regime": 1, "pattern_scorer": 1, "selector": 1, "tradeprob": 1}


def test_openapi_declares_the_api_key_on_the_writing_endpoints_only(client):
    """Clients and the interactive docs learn from /openapi.json which header to send, and where."""
    spec = client.get("/openapi.json").json()
    ((scheme, declared),) = spec["components"]["securitySchemes"].items()
    assert {k: declared[k] for k in ("type", "in", "name")} == {"type": "apiKey", "in": "header",
                                                                "name": "X-API-Key"}
    guarded = {(path, method) for path, ops in spec["paths"].items() for method, op in ops.items()
               if op.get("security")}
    assert guarded == {("/api/ml/train", "post"), ("/api/journal", "post")}
    assert spec["paths"]["/api/ml/train"]["post"]["security"] == [{scheme: []}]


def test_every_json_endpoint_documents_its_answer(client):
    """Each operation's success answer has a named schema in /openapi.json (a `response_model`)."""
    spec = client.get("/openapi.json").json()
    undocumented = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
            if method != "head" and "$ref" not in ok.get("content", {}).get("application/json", {}).get(
                    "schema", {}):
                undocumented.append(f"{method.upper()} {path}")
    assert undocumented == []
