"""A local HTTP server with SageMaker's serving contract (GET /ping, POST /invocations), on 127.0.0.1 only.

It answers /invocations with ml/inference.py's transform(), the function the SageMaker container's serving entry
module calls too (stacks/bundle_root/serving_entry.py), so both give every request the same status and body.
Every malformed request gets a 4xx JSON body {"error": "..."}; the server keeps serving. HTTP/1.1 keep-alive,
one thread per connection (stdlib ThreadingHTTPServer: the handler costs well under a millisecond).
An oversized body is refused before it is read: with `Expect: 100-continue` the 413 goes out instead of the 100,
otherwise the 413 goes out first and the body is then read and discarded (up to DRAIN_LIMIT_BYTES), so a client
still sending gets its answer instead of a reset connection, as real servers do (nginx's lingering close).

CLI (behind make serve):  python -m ml.local.server [--model-dir DIR | --version N] [--port 8080]
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ml import inference

HOST = "127.0.0.1"
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024  # past this, a refused body is not worth reading: the connection is closed
log = logging.getLogger("ml.local.server")


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Traffic capture hook (ml/local/capture.py attach): called with (request body, its Content-Type, response body,
    # its Content-Type) for every answered invocation, like SageMaker data capture. None: nothing is captured.
    on_invocation: Callable[[bytes, str | None, str, str], None] | None = None

    def __init__(self, model: inference.Model, port: int = 0) -> None:
        self.model = model
        super().__init__((HOST, port), InvocationHandler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"


class InvocationHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client reuses its connection
    # Headers and body are two writes: with Nagle on, the body waits for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    # Errors found before the version is parsed are answered in this version: HTTP/0.9 would drop status and headers.
    default_request_version = "HTTP/1.0"
    server: ModelServer
    server_version = "titanic-local"
    timeout = 30  # seconds a connection may stay silent (idle keep-alive, a body that never comes) before it is dropped

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own errors (bad request line, oversized headers, unknown method) as JSON too.

        They are all the client's fault, so they stay 4xx: unknown method 501 -> 405, bad HTTP version 505 -> 400.
        """
        if code >= 500:
            code = 405 if code == HTTPStatus.NOT_IMPLEMENTED else 400
        self.close_connection = True
        self._reply(code, {"error": message or HTTPStatus(code).phrase})

    def _reply(self, status: int, document: Any = None, body: str | None = None, content_type: str = "") -> None:
        if body is None:
            body, content_type = json.dumps(document), "application/json"
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/ping":
            self._reply(200, {"status": "ok", "model_sha256": self.server.model.metadata.get("model_sha256")})
        else:
            self._reply(404, {"error": f"no route GET {self.path}; use GET /ping or POST /invocations"})

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/invocations":
            self._discard_body_or_close()
            self._reply(404, {"error": f"no route POST {self.path}; use POST /invocations"})
            return
        body = self._read_body()
        if body is None:
            return
        # The container reads the header "ContentType" (set by some AWS services) before "Content-Type".
        content_type = self.headers.get("ContentType") or self.headers.get("Content-Type")
        try:
            reply = inference.transform(self.server.model, body, content_type, self.headers.get("Accept"))
        except Exception:  # a bug, not a bad payload: say so, log it, keep serving
            log.exception("prediction failed")
            self._reply(500, {"error": "internal error while predicting (see the server log)"})
            return
        if self.server.on_invocation and reply.status == 200:  # capture (ml/local/capture.py): answered requests
            self.server.on_invocation(body, content_type, reply.body, reply.content_type)
        self._reply(reply.status, body=reply.body, content_type=reply.content_type)

    def _read_body(self) -> bytes | None:
        """The request body, or None after replying with the 4xx that says why it cannot be read."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            self._reply(411, {"error": "chunked bodies are not accepted: send Content-Length"})
            return None
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self.close_connection = True
            self._reply(411, {"error": "Content-Length header is required"})
            return None
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._reply(400, {"error": f"invalid Content-Length {length_header!r}"})
            return None
        if length > inference.MAX_BODY_BYTES:
            self._refuse_oversized(length)
            return None
        try:
            body = self.rfile.read(length)
        except TimeoutError:  # the client stopped sending: nobody is waiting for an answer
            self.close_connection = True
            return None
        if len(body) < length:
            self.close_connection = True
            self._reply(400, {"error": f"body ended after {len(body)} of {length} bytes"})
            return None
        return body

    def _discard_body_or_close(self) -> None:
        length = self.headers.get("Content-Length", "")
        if length.isdigit() and int(length) <= inference.MAX_BODY_BYTES:
            self.rfile.read(int(length))
        else:
            self.close_connection = True
            self._drain(int(length) if length.isdigit() else 0)

    def handle_expect_100(self) -> bool:
        """`Expect: 100-continue` with an oversized Content-Length: answer 413 before the client sends the body."""
        length = self.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > inference.MAX_BODY_BYTES:
            self.close_connection = True
            self._reply(413, self._oversized(int(length)))
            return False
        return super().handle_expect_100()

    @staticmethod
    def _oversized(length: int) -> dict[str, str]:
        return {"error": f"body of {length} bytes exceeds the limit of {inference.MAX_BODY_BYTES}"}

    def _refuse_oversized(self, length: int) -> None:
        """413 first, then read and discard what the client is still sending, then close."""
        self.close_connection = True  # the unread body must not be parsed as the next request
        self._reply(413, self._oversized(length))
        self.wfile.flush()
        self._drain(length)

    def _drain(self, length: int) -> None:
        remaining = min(length, DRAIN_LIMIT_BYTES)
        try:
            while remaining > 0:
                chunk = self.rfile.read1(min(remaining, 65536))
                if not chunk:
                    return
                remaining -= len(chunk)
        except OSError:  # the client gave up or went silent for `timeout` seconds: nothing left to protect
            return

    def do_PUT(self) -> None:
        self._method_not_allowed()

    do_DELETE = do_PATCH = do_PUT

    def _method_not_allowed(self) -> None:
        self.close_connection = True
        self._reply(405, {"error": f"method {self.command} not allowed; use GET /ping or POST /invocations"})


def start_in_thread(model: inference.Model, port: int = 0) -> tuple[ModelServer, threading.Thread]:
    """A running server on 127.0.0.1 (port 0: a free port); stop it with server.shutdown()."""
    server = ModelServer(model, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def resolve_model(model_dir: str | None, version: str | None) -> tuple[Path, str]:
    """The model folder to serve and a label for it: a given folder, else a registry version (the latest by default)."""
    if model_dir:
        return Path(model_dir), model_dir
    from ml.local import registry  # MLflow only when serving from the registry

    registered = registry.get_version(version)
    label = f"{registered.name} v{registered.version} ({registered.approval_status})"
    if registered.approval_status != registry.APPROVED:
        label += " - not approved: fine for trying it locally, never promoted (make approve)"
    return registry.model_path(registered), label


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a model on 127.0.0.1 with the SageMaker contract.")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model-dir", help="a model folder (default: the latest version in the local registry)")
    source.add_argument("--version", help="a version of the local registry (default: the latest)")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    args = parser.parse_args(argv)
    try:
        model_dir, label = resolve_model(args.model_dir, args.version)
        server = ModelServer(inference.model_fn(str(model_dir)), args.port)
    except OSError as error:
        print(f"serve: cannot listen on {HOST}:{args.port} or read the model: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # RegistryError and friends: a message, not a traceback
        print(f"serve: {error}", file=sys.stderr)
        return 1
    print(f"serving {label} on {server.url} (GET /ping, POST /invocations); Ctrl-C stops", flush=True)
    signal.signal(signal.SIGTERM, _stop)  # `kill` stops it as cleanly as Ctrl-C
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
