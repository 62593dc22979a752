"""Make numpy/pandas values JSON-safe in one place (NaN and inf become null, never invalid JSON).

numpy is not imported here: every CLI command prints through `to_jsonable`, and importing numpy
(pandas came with it before) for a command that never made an array, such as an unchanged
`paiid data import`, was a third of its start-up. An object of numpy's can only exist once numpy
has been imported, so `sys.modules` says whether to check for one. pandas needs no check of its
own: `pd.Timestamp` is a `datetime` (and so is `pd.NaT`).
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from typing import Any


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [to_jsonable(v) for v in obj]
    np = sys.modules.get("numpy")  # None: numpy was never imported, so `obj` is none of its types
    if np is not None and isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, bool) or (np is not None and isinstance(obj, np.bool_)):
        return bool(obj)
    if isinstance(obj, int) or (np is not None and isinstance(obj, np.integer)):
        return int(obj)
    if isinstance(obj, float) or (np is not None and isinstance(obj, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, dt.datetime | dt.date):  # pd.Timestamp included: a datetime subclass
        return obj.isoformat()
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "model_dump"):
        return to_jsonable(obj.model_dump())
    if hasattr(obj, "__dataclass_fields__"):
        return to_jsonable({k: getattr(obj, k) for k in obj.__dataclass_fields__})
    return str(obj)
