"""The local server over real loopback HTTP: the serving contract for good and malformed requests, and that it
keeps serving after each bad one."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

import pytest

from ml import inference
from ml.local import server

from .payloads import CSV, EXPECTED, GOOD, JSON, MALFORMED, body, csv_line


@pytest.fixture(scope="module")
def running(model: inference.Model) -> Iterator[server.ModelServer]:
    instance, thread = server.start_in_thread(model)
    yield instance
    instance.shutdown()
    instance.server_close()
    thread.join(timeout=5)


def request(
    running: server.ModelServer, method: str, path: str, data: bytes | None = None, headers: dict | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", running.server_address[1], timeout=5)
    try:
        connection.request(method, path, data, headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def raw_request(running: server.ModelServer, data: bytes) -> tuple[int, dict]:
    """Send bytes as they are (for requests http.client refuses to build); return status and JSON body."""
    with socket.create_connection(("127.0.0.1", running.server_address[1]), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # the server sees the end of a short body instead of waiting for more
        chunks = b""
        while chunk := sock.recv(65536):
            chunks += chunk
    head, _, payload = chunks.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def assert_still_serving(running: server.ModelServer) -> None:
    status, _, payload = request(running, "GET", "/ping")
    assert status == 200 and json.loads(payload)["status"] == "ok"


def test_ping_is_200_with_a_loaded_model(running: server.ModelServer) -> None:
    assert_still_serving(running)


def test_json_invocation(running: server.ModelServer) -> None:
    status, headers, payload = request(running, "POST", "/invocations", body(GOOD), {"Content-Type": JSON})
    assert status == 200 and headers["Content-Type"] == JSON
    assert [p["survived"] for p in json.loads(payload)["predictions"]] == EXPECTED


def test_csv_invocation(running: server.ModelServer) -> None:
    rows = "\n".join(csv_line(p) for p in GOOD).encode()
    status, headers, payload = request(running, "POST", "/invocations", rows, {"Content-Type": CSV, "Accept": CSV})
    assert status == 200 and headers["Content-Type"] == CSV
    assert [int(line.split(",")[0]) for line in payload.decode().splitlines()] == EXPECTED


def test_keep_alive_serves_many_requests_on_one_connection(running: server.ModelServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", running.server_address[1], timeout=5)
    for _ in range(20):
        connection.request("POST", "/invocations", body(GOOD[:1]), {"Content-Type": JSON})
        response = connection.getresponse()
        assert response.status == 200
        response.read()
    connection.close()


@pytest.mark.parametrize(("case", "content_type", "data", "status", "words"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_payloads_get_a_4xx_json_error(running: server.ModelServer, case, content_type, data, status, words):
    headers = {"Content-Type": content_type} if content_type else {}
    got, response_headers, payload = request(running, "POST", "/invocations", data, headers)
    assert got == status
    assert response_headers["Content-Type"] == JSON
    assert words in json.loads(payload)["error"]
    assert_still_serving(running)


def test_unsupported_accept_is_406(running: server.ModelServer) -> None:
    status, _, payload = request(
        running, "POST", "/invocations", body(GOOD), {"Content-Type": JSON, "Accept": "image/png"}
    )
    assert status == 406 and "unsupported Accept" in json.loads(payload)["error"]


def test_oversized_body_is_413_without_reading_it(running: server.ModelServer) -> None:
    size = inference.MAX_BODY_BYTES + 1
    status, payload = raw_request(
        running,
        f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON}\r\nContent-Length: {size}\r\n\r\n".encode(),
    )
    assert status == 413 and "exceeds the limit" in payload["error"]
    assert_still_serving(running)


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n", 411, "Content-Length"),
        (b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411, "chunked"),
        (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "invalid Content-Length"),
        (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{}", 400, "body ended after 2 of 50"),
        (b"BREW /invocations HTTP/1.1\r\nHost: x\r\n\r\n", 405, "Unsupported method"),
        (b"DELETE /invocations HTTP/1.1\r\nHost: x\r\n\r\n", 405, "not allowed"),
        (b"GET /ping HTTP/9.9\r\n\r\n", 400, "Invalid HTTP version"),
        (b"garbage\r\n\r\n", 400, "Bad request"),
        (b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "no route GET /nope"),
        (b"POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 404, "no route POST"),
    ],
)
def test_malformed_http_gets_a_4xx_json_error(running: server.ModelServer, data: bytes, status: int, words: str):
    got, payload = raw_request(running, data)
    assert got == status
    assert words in payload["error"]
    assert_still_serving(running)


def test_binds_loopback_only(running: server.ModelServer) -> None:
    assert running.server_address[0] == "127.0.0.1"


def test_a_stalled_body_is_dropped_after_the_timeout(running: server.ModelServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(server.InvocationHandler, "timeout", 0.3)
    with socket.create_connection(("127.0.0.1", running.server_address[1]), timeout=5) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}")
        assert sock.recv(1024) == b""  # closed by the server, no half answer
    assert_still_serving(running)


def test_no_content_type_is_json_as_in_the_container(running: server.ModelServer) -> None:
    status, headers, payload = request(running, "POST", "/invocations", body(GOOD))
    assert status == 200 and headers["Content-Type"] == JSON
    assert [p["survived"] for p in json.loads(payload)["predictions"]] == EXPECTED


def test_a_client_still_sending_an_oversized_body_gets_its_413_not_a_broken_pipe(running: server.ModelServer) -> None:
    """http.client sends the whole 6 MB + 1 body before it reads: the server answers, then reads and discards."""
    connection = http.client.HTTPConnection("127.0.0.1", running.server_address[1], timeout=30)
    try:
        connection.request("POST", "/invocations", b" " * (inference.MAX_BODY_BYTES + 1), {"Content-Type": JSON})
        response = connection.getresponse()
        assert response.status == 413
        assert response.getheader("Connection") == "close"
        assert "exceeds the limit" in json.loads(response.read())["error"]
    finally:
        connection.close()
    assert_still_serving(running)


def test_expect_100_continue_with_an_oversized_body_is_answered_before_the_body(running: server.ModelServer) -> None:
    size = inference.MAX_BODY_BYTES + 1
    with socket.create_connection(("127.0.0.1", running.server_address[1]), timeout=5) as sock:
        sock.sendall(
            f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON}\r\nContent-Length: {size}\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):  # the server closes after its answer; no body was sent
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in head
    assert "exceeds the limit" in json.loads(payload)["error"]
    assert_still_serving(running)


def test_expect_100_continue_within_the_limit_is_served(running: server.ModelServer) -> None:
    data = body(GOOD)
    with socket.create_connection(("127.0.0.1", running.server_address[1]), timeout=5) as sock:
        sock.sendall(
            f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON}\r\nContent-Length: {len(data)}\r\n"
            "Expect: 100-continue\r\nConnection: close\r\n\r\n".encode()
        )
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")
