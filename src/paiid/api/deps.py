"""Dependencies shared by the routers: the API key that guards every endpoint that writes or trains.

Built on `fastapi.security.APIKeyHeader` so that `/openapi.json` declares the `X-API-Key` scheme and
the interactive docs offer an "Authorize" button. `auto_error=False` because FastAPI's own refusal is a
bare 403 "Not authenticated"; the contract wants a 401 whose `detail` says what to send.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Security
from fastapi.security import APIKeyHeader

from paiid import config
from paiid.errors import AuthError

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="APIKey",
    description="The server's PAIID_API_KEY; needed by every endpoint that writes or trains.",
)


def require_api_key(x_api_key: Annotated[str | None, Security(api_key_header)]) -> None:
    """401 unless the `X-API-Key` header equals the server's `PAIID_API_KEY` (compared in constant time).

    With no key configured the guarded endpoints stay closed: an open training endpoint on a server
    someone forgot to configure would let any caller replace the served models.
    """
    expected = config.settings().api_key
    if expected is None:
        raise AuthError(
            "this server has no API key configured, so training is disabled: start it with PAIID_API_KEY "
            "set and send the same value in the X-API-Key header"
        )
    if not x_api_key:
        raise AuthError("missing X-API-Key header: send the server's PAIID_API_KEY in it")
    if not hmac.compare_digest(x_api_key.encode(), expected.get_secret_value().encode()):
        raise AuthError("wrong X-API-Key: send the server's PAIID_API_KEY")
