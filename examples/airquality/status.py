"""A tiny WSGI status page (the platform example's python service).

`flowc dev examples/platform.flow --only status` serves it locally; the targets run
it under wsgiref (Kubernetes), as a Cloud Function (GCP) or as a Lambda function (AWS).
"""

import json
import os


def app(environ, start_response):
    body = json.dumps({"service": os.environ.get("FLOWC_SERVICE", "status"),
                       "path": environ.get("PATH_INFO", "/")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
