"""The stable front door of one service: a small HTTP proxy on a port that does not change
across reloads and restarts, forwarding to whichever instance is live.

Built on werkzeug (already installed with moto's server): its `ProxyMiddleware` forwards a
request on a fresh connection to the backend and streams the answer back, and its
threaded dev server gives a thread per client connection. What flowc adds is the switch:
`route(backend)` changes the live backend atomically and `drain(backend)` waits until the
requests already sent to the old one have finished, so it can be stopped without failing
any of them. With no live backend, a request waits up to `wait_s` for one (a service
starting or restarting), then gets 503.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from werkzeug.middleware.http_proxy import ProxyMiddleware
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Response
from werkzeug.wsgi import ClosingIterator

HOST = "127.0.0.1"
WAIT_S = 10.0
BACKEND_TIMEOUT_S = 300  # a slow handler is the service's business, not the proxy's


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class ServiceProxy:
    def __init__(self, name: str, port: int, wait_s: float = WAIT_S):
        self.name = name
        self.wait_s = wait_s
        self._backend: str | None = None
        self._forwarder = ProxyMiddleware(self._unrouted, {}, timeout=BACKEND_TIMEOUT_S)
        self._in_flight: Counter[str] = Counter()
        self._changed = threading.Condition()
        self._server: BaseWSGIServer = make_server(
            HOST, port, self._app, threaded=True, request_handler=_QuietHandler
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"proxy-{name}", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, backend: str | None) -> None:
        """Send new requests to `backend` (a base URL), or hold them (None)."""
        with self._changed:
            self._backend = backend
            self._changed.notify_all()

    def drain(self, backend: str, timeout: float) -> bool:
        """Wait until no request is in flight to `backend`. False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._in_flight[backend]:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def _unrouted(self, environ, start_response):  # ProxyMiddleware's fallback: never hit
        return Response("no route", status=502)(environ, start_response)

    def _finished(self, backend: str) -> None:
        with self._changed:
            self._in_flight[backend] -= 1
            self._changed.notify_all()

    def _app(self, environ, start_response):
        deadline = time.monotonic() + self.wait_s
        with self._changed:  # pick and count under one lock, so a drain cannot miss us
            while self._backend is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    body = f"flowc dev: service `{self.name}` has no healthy instance yet\n"
                    return Response(body, status=503, headers={"Retry-After": "1"})(
                        environ, start_response
                    )
                self._changed.wait(left)
            backend = self._backend
            self._in_flight[backend] += 1
        try:
            forward = self._forwarder.proxy_to(_target(backend), environ["PATH_INFO"], "/")
            body = forward(environ, start_response)
        except BaseException:
            self._finished(backend)
            raise
        return ClosingIterator(body, lambda: self._finished(backend))


def _target(backend: str) -> dict[str, Any]:
    """ProxyMiddleware's per-target options, for the whole path space of one backend."""
    return {"target": backend, "remove_prefix": False, "host": "<auto>", "headers": {},
            "ssl_context": None}  # fmt: skip
