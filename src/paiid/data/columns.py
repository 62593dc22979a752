"""The bar schema's column names, in a module that imports nothing.

Why a module of their own: the unchanged re-import (`paiid data import` of a file it recognises)
needs them to answer but never touches a table, and `validate`, where the checks that use them
live, imports pandas and pyarrow (a third of that process's start-up). `validate` re-exports them.
"""

from __future__ import annotations

#: The bar schema, in this order everywhere (store, features, API).
COLUMNS = ["open", "high", "low", "close", "volume"]
#: The real columns of a close-only series (the others absent, never copies of the close).
CLOSE_ONLY = ["close"]
