"""Property-based API fuzzing: schemathesis generates requests from `/openapi.json`; none may be a 500.

Runs against a real `paiid serve` whose models were trained on SPX only (the shared session home),
with a bounded, derandomized number of generated cases per operation — schema-conforming ones and
schema-violating ones. Only "not a server error" is asserted: a 4xx with a helpful `detail` is the
right answer to most generated input.

Why the Python API rather than `schemathesis.pytest.from_fixture`: with pytest 9 the lazy-fixture
loader of schemathesis 4.32 fails (`'Function' object has no attribute '_nodeid'`), and the schema
can only be loaded once the server fixture runs, so the cases are driven with hypothesis directly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from paiid.bench.api import Server, linked_home, serve, shared_test_home

pytestmark = pytest.mark.slow

#: Generated cases per operation and mode (positive / negative).
MAX_EXAMPLES = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    trained = shared_test_home(tmp_path_factory.getbasetemp())
    with serve(linked_home(trained, tmp_path_factory.mktemp("schemathesis-home"))) as srv:
        yield srv


def _fuzz(server: Server, op, mode: GenerationMode, failures: list[str]) -> int:
    """Run up to MAX_EXAMPLES generated requests of one operation and mode; returns how many were sent."""
    sent = 0

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        nonlocal sent
        response = case.call(base_url=server.url, timeout=120)
        sent += 1
        if response.status_code >= 500:
            failures.append(f"{op.label} [{mode}] -> {response.status_code} {response.text[:300]}\n"
                            f"  reproduce: {case.as_curl_command()}")

    try:
        run()
    except Unsatisfiable:  # no schema-violating request exists (e.g. GET /health has no inputs)
        pass
    return sent


def test_no_generated_request_causes_a_server_error(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8, [op.label for op in operations]  # the routers are all there
    failures: list[str] = []
    sent = sum(_fuzz(server, op, mode, failures)
               for op in operations for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))
    assert sent >= len(operations) * 2  # really exercised the API
    assert not failures, "server errors:\n" + "\n".join(failures) + f"\n\nserver log:\n{server.log()}"
