"""paiid's errors survive pickling: a worker process or a Dask worker sends them back as themselves.

Python pickles an exception as `cls(*args)`; for a subclass whose `__init__` takes something other
than the message that either fails (`NotEnoughHistory` needs three arguments) or builds a different
message (`UnknownSymbol` would treat the message as the symbol). Each class is checked on its own.
"""

from __future__ import annotations

import inspect
import pickle

import pytest

from paiid import errors
from paiid.errors import (
    AuthError,
    BadInput,
    DataValidationError,
    ModelError,
    NotEnoughHistory,
    PaiidError,
    UnknownSymbol,
    UpstreamError,
)

EXAMPLES: list[PaiidError] = [
    PaiidError("something is wrong"),
    BadInput("unknown strategy 'x'"),
    UnknownSymbol("ZZZ", known=["SPX", "AAPL"]),
    NotEnoughHistory("the regime model", needed=260, available=3),
    DataValidationError(["high < low in 1 bar(s) at 2019-01-03", "2 duplicate dates"], source="file.csv"),
    ModelError("model file is corrupt"),
    AuthError("missing X-API-Key"),
    UpstreamError("Tradier sent garbage"),
]


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_round_trips_through_pickle_with_message_and_fields(error: PaiidError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error) and back.message == error.message and back.args == error.args
    assert vars(back) == vars(error)
    assert (back.status_code, back.exit_code) == (error.status_code, error.exit_code)


def test_the_fields_callers_read_are_restored() -> None:
    unknown = pickle.loads(pickle.dumps(UnknownSymbol("ZZZ", known=["SPX"])))
    assert unknown.symbol == "ZZZ" and "known symbols: SPX" in unknown.message
    short = pickle.loads(pickle.dumps(NotEnoughHistory("walk-forward", needed=100, available=3)))
    assert (short.needed, short.available) == (100, 3)
    invalid = pickle.loads(pickle.dumps(DataValidationError(["a", "b"], source="x.csv")))
    assert invalid.problems == ["a", "b"] and invalid.message == "x.csv rejected: a; b"


def test_every_error_class_has_an_example() -> None:
    classes = {c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, PaiidError)}
    assert classes == {type(e) for e in EXAMPLES}
