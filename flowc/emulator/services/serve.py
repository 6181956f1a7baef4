"""Runs one python service in its own process; executed by path, so it imports no flowc.

    python serve.py CODE_DIR MODULE:ATTR [PORT]

With a PORT, MODULE:ATTR is an ASGI app (an async callable, e.g. FastAPI/Starlette),
served by uvicorn, or a WSGI app (e.g. Flask), served by the standard library's wsgiref
with a thread per request. Without one it is a worker: the callable is called (awaited
when it is a coroutine function) and the process ends when it returns.
"""

import asyncio
import importlib
import inspect
import socketserver
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

EXIT_NO_UVICORN = 3


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # the proxy in front is where requests show
        pass


def load(target):
    module, _, attr = target.partition(":")
    value = importlib.import_module(module)
    for part in (attr or "app").split("."):
        value = getattr(value, part)
    return value


def is_asgi(app):
    call = app if inspect.isroutine(app) else type(app).__call__
    return inspect.iscoroutinefunction(call)


def main():
    code_dir, target = sys.argv[1:3]
    port = int(sys.argv[3]) if len(sys.argv) > 3 else None
    sys.argv = [target]
    sys.path.insert(0, code_dir)
    app = load(target)
    if port is None:
        result = app()
        if inspect.isawaitable(result):
            asyncio.run(result)
        return
    if is_asgi(app):
        try:
            import uvicorn
        except ImportError:
            sys.stderr.write(f"flowc: {target} is an ASGI app; install uvicorn to serve it\n")
            sys.exit(EXIT_NO_UVICORN)
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="auto")
        return
    server = make_server("127.0.0.1", port, app, ThreadingWSGIServer, QuietHandler)
    server.serve_forever()


if __name__ == "__main__":
    main()
