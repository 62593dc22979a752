"""Property-based API fuzzing: schemathesis generates requests from `/openapi.json`; none may be a 500.

Runs against a real `paiid serve` whose models were trained on SPX only (the shared session home),
with a bounded, derandomized number of generated cases per operation — schema-conforming ones and
schema-violating ones. Only "not a server error" is asserted: a 4xx with a helpful `detail` is the
right answer to most generated input.

A second pass aims at dates: every operation with a date (`date`, `start`, `end`) is sent generated cases
whose date is one of the bounds of pandas' nanosecond timestamps or beyond (`0001-01-01`, `9999-12-31`,
`2262-04-12`, `1677-09-21`, ...) or any calendar date, often with a real symbol and strategy so that the
date is really parsed (a random symbol is a 404 before any date is read).

Why the Python API rather than `schemathesis.pytest.from_fixture`: with pytest 9 the lazy-fixture
loader of schemathesis 4.32 fails (`'Function' object has no attribute '_nodeid'`), and the schema
can only be loaded once the server fixture runs, so the cases are driven with hypothesis directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from paiid.bench.api import Server, linked_home, serve

pytestmark = pytest.mark.slow

#: Generated cases per operation and mode (positive / negative), and per dated operation in the date pass.
MAX_EXAMPLES = 10
DATE_EXAMPLES = 16
#: Date strings at and beyond what a nanosecond timestamp holds (1677-09-21 00:12:43 .. 2262-04-11 23:47:16).
BOUND_DATES = ["0001-01-01", "9999-12-31", "2262-04-12", "1677-09-21", "2262-04-11", "1677-09-22",
               "2999-01-01", "2262-04-11T23:59:59", "1677-09-21T00:00:00+00:00", "9999-12-31T23:59:59-12:00"]
DATE_FIELDS = ("date", "start", "end")
#: The calendar ranges real answers are asked in: before the first bar (1999-01-04), the early years
#: whose point-in-time refits have too little history for some models, the two quarters whose refits
#: the rest of the suite fits into the shared home anyway (2013-01..03 -> 2012-12-31, also GOOG's last
#: quarter; 2018-04..06 -> 2018-03-31), and after the last bar. An answer as of any other past quarter
#: fits that quarter's models (300-tree forests) once more: that was most of this file's time, for the
#: same question (is a real past-date answer ever a 500?) asked of another quarter's models.
IN_HISTORY = [(dt.date(1995, 1, 1), dt.date(2004, 12, 31)), (dt.date(2013, 1, 1), dt.date(2013, 3, 29)),
              (dt.date(2018, 4, 2), dt.date(2018, 6, 29)), (dt.date(2019, 1, 1), dt.date(2025, 1, 1))]
DATES = st.one_of(
    st.sampled_from(BOUND_DATES),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)).map(dt.date.isoformat),
    # within the bundled symbols' history: real answers (see IN_HISTORY)
    st.one_of(*(st.dates(min_value=lo, max_value=hi) for lo, hi in IN_HISTORY)).map(dt.date.isoformat),
    st.datetimes(timezones=st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=14)),
                                             dt.timezone(dt.timedelta(hours=-12))])).map(dt.datetime.isoformat),
)
#: What the date-aimed cases put in `symbol` / `strategy_id` so that the request gets as far as the date.
SYMBOLS = st.sampled_from(["SPX", "GOOG", "EURUSD"])
STRATEGY_IDS = st.sampled_from(["momentum-macd", "trend-following-ma-cross"])


@pytest.fixture(scope="module")
def server(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
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


def _date_fields(op) -> tuple[str, tuple[str, ...]]:
    """Where an operation takes dates: ("query" | "body", the field names), or ("", ()) if nowhere."""
    in_query = tuple(p.name for p in op.query if p.name in DATE_FIELDS)
    if in_query:
        return "query", in_query
    for body in op.body:
        props = body.definition.get("schema", {}).get("properties", {})
        if any(f in props for f in DATE_FIELDS):
            return "body", tuple(f for f in DATE_FIELDS if f in props)
    return "", ()


def _fuzz_dates(server: Server, op, failures: list[str]) -> int:
    """Schema-conforming cases of `op` with each date field drawn from DATES; returns how many were sent."""
    where, fields = _date_fields(op)
    sent = 0

    @given(case=op.as_strategy(generation_mode=GenerationMode.POSITIVE), data=st.data())
    @settings(max_examples=DATE_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case, data) -> None:
        nonlocal sent
        target = case.query if where == "query" else case.body
        if data.draw(st.booleans(), label="valid rest"):
            # a real symbol (and strategy) and nothing else generated, so that the date is what is judged;
            # else the generated request, whose other fields mostly fail first
            target = {"symbol": data.draw(SYMBOLS, label="symbol")}
            if where == "body":
                target["strategy_id"] = data.draw(STRATEGY_IDS, label="strategy_id")
                case.body = target
            else:
                case.query = target
        for name in fields:
            target[name] = data.draw(DATES, label=name)
        response = case.call(base_url=server.url, timeout=120)
        sent += 1
        if response.status_code >= 500:
            failures.append(f"{op.label} [dates] -> {response.status_code} {response.text[:300]}\n"
                            f"  reproduce: {case.as_curl_command()}")

    run()
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


def test_dates_at_and_beyond_the_bounds_never_cause_a_server_error(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    dated = [op for op in (result.ok() for result in schema.get_all_operations()) if _date_fields(op)[1]]
    # the seven GET endpoints with an as-of date (the scan too), predict-trade and backtest
    assert len(dated) == 9, [op.label for op in dated]
    failures: list[str] = []
    sent = sum(_fuzz_dates(server, op, failures) for op in dated)
    assert sent >= len(dated) * DATE_EXAMPLES // 2
    assert not failures, "server errors:\n" + "\n".join(failures) + f"\n\nserver log:\n{server.log()}"
