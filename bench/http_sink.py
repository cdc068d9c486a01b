"""A minimal HTTP endpoint for benchmarks: answers every request 200 and counts arrivals.

`python -m bench.http_sink --port P` serves it with uvicorn. `GET /_stats` returns
`{"count", "first_ns", "last_ns", "distinct_keys"}` (arrivals by wall clock, distinct
`Idempotency-Key` values); `POST /_reset` clears them.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

State = dict[str, Any]
_state: State = {"count": 0, "first_ns": None, "last_ns": None, "keys": set()}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI application."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    path = scope["path"]
    body = b"ok"
    if path == "/_stats":
        body = json.dumps(
            {
                "count": _state["count"],
                "first_ns": _state["first_ns"],
                "last_ns": _state["last_ns"],
                "distinct_keys": len(_state["keys"]),
            }
        ).encode()
    elif path == "/_reset":
        _state.update(count=0, first_ns=None, last_ns=None, keys=set())
    else:
        now = time.time_ns()
        _state["count"] += 1
        _state["first_ns"] = _state["first_ns"] or now
        _state["last_ns"] = now
        for name, value in scope["headers"]:
            if name == b"idempotency-key":
                _state["keys"].add(value)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
