"""flowc's AWS Lambda entry point for a python service (shipped as flowc_service_handler.py).

API Gateway (HTTP API, payload 2.0) invokes it per request. Secrets are resolved into
their env var names first (as for tasks, by flowc_handler), then FLOWC_ENTRYPOINT
("module:app") is imported: an ASGI app is served by Mangum, a WSGI app through a2wsgi's
WSGIMiddleware and Mangum. Both libraries are vendored into the zip by flowc
(lambda_service_requirements.txt).
"""

import importlib
import inspect
import os

from flowc_handler import _resolve_secrets
from mangum import Mangum

_resolve_secrets()
_module, _, _attr = os.environ["FLOWC_ENTRYPOINT"].partition(":")
app = getattr(importlib.import_module(_module), _attr)
_call = app if inspect.isroutine(app) else type(app).__call__
if not inspect.iscoroutinefunction(_call):  # WSGI
    from a2wsgi import WSGIMiddleware

    app = WSGIMiddleware(app)

handler = Mangum(app, lifespan="off")
