"""Local data capture and traffic simulation: the monitor end to end on this machine (the drift step of make run).

CaptureWriter records each invocation the local server answers as SageMaker data capture does (ml/capture.py
builds the records; files under <root>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl), so `make drift` and the monitor
Lambda read local captures exactly as they read an endpoint's. attach() sets it as the server's invocation hook.

simulate_and_check() sends a realistic sample of passengers (the test split: unseen by training, same population)
to a running local server in single and batched requests, JSON and CSV, captures them, and runs ml/drift.py's check
on the capture with the environment's thresholds; it prints the per-feature table and writes the report.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import logging
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ml import baseline, capture, contracts, dataset, drift, drift_report, schema

LOCAL_ENDPOINT = "titanic-local"
log = logging.getLogger("ml.local.capture")
# The request plan of the simulation, cycled: (passengers per request, Content-Type, Accept, CSV header line).
# Mostly single passengers in JSON (an interactive client), some batches and some CSV (a batch client).
REQUEST_PLAN: tuple[tuple[int, str, str, bool], ...] = (
    (1, contracts.JSON_CONTENT_TYPE, contracts.JSON_CONTENT_TYPE, False),
    (1, contracts.JSON_CONTENT_TYPE, contracts.JSON_CONTENT_TYPE, False),
    (3, contracts.CSV_CONTENT_TYPE, contracts.CSV_CONTENT_TYPE, True),
    (1, contracts.JSON_CONTENT_TYPE, contracts.JSON_CONTENT_TYPE, False),
    (2, contracts.JSON_CONTENT_TYPE, contracts.CSV_CONTENT_TYPE, False),
    (1, contracts.CSV_CONTENT_TYPE, contracts.JSON_CONTENT_TYPE, False),
    (5, contracts.JSON_CONTENT_TYPE, contracts.JSON_CONTENT_TYPE, False),
)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class CaptureWriter:
    """Appends capture records to one file per hour (thread-safe: the server answers on several threads)."""

    def __init__(
        self,
        root: Path,
        endpoint: str = LOCAL_ENDPOINT,
        variant: str = capture.DEFAULT_VARIANT,
        clock: Callable[[], datetime] = _utc_now,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        content_types: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.root, self.endpoint, self.variant = Path(root), endpoint, variant
        self.clock, self.new_id, self.content_types = clock, new_id, content_types
        self.files: dict[str, Path] = {}  # hour folder -> its file
        self.failures = 0
        self._lock = threading.Lock()

    def __call__(self, request_body: bytes, request_type: str | None, response_body: str, response_type: str) -> None:
        """The server hook: one answered invocation. A capture that cannot be written never fails the response (as in
        SageMaker); it is counted in `failures` and logged."""
        try:
            self._write(request_body, request_type, response_body, response_type)
        except OSError:
            self.failures += 1
            log.exception("data capture failed; the invocation was answered")

    def _write(self, request_body: bytes, request_type: str | None, response_body: str, response_type: str) -> None:
        with self._lock:
            when, event_id = self.clock(), self.new_id()
            record = capture.make_record(
                (request_body, request_type), (response_body.encode("utf-8"), response_type), event_id, when,
                self.content_types,
            )  # fmt: skip
            folder = capture.hour_folder(self.endpoint, self.variant, when)
            if folder not in self.files:  # SageMaker's file names: <minute>-<second>-<millisecond>-<uuid>.jsonl
                name = f"{when:%M-%S}-{when.microsecond // 1000:03d}-{event_id}{capture.FILE_SUFFIX}"
                self.files[folder] = self.root / folder / name
                self.files[folder].parent.mkdir(parents=True, exist_ok=True)
            with self.files[folder].open("a", encoding="utf-8") as stream:
                stream.write(capture.dumps(record))


def attach(server: Any, writer: CaptureWriter | None) -> None:
    """Set (or, with None, remove) the local server's invocation hook (ml/local/server.py ModelServer)."""
    server.on_invocation = writer


def request_bodies(passengers: Sequence[Mapping[str, Any]]) -> list[tuple[bytes, str, str]]:
    """(body, Content-Type, Accept) of every request of the simulation, following REQUEST_PLAN."""
    requests, position, step = [], 0, 0
    while position < len(passengers):
        size, content_type, accept, header = REQUEST_PLAN[step % len(REQUEST_PLAN)]
        chunk = [{name: p.get(name) for name in schema.INFERENCE_COLUMN_NAMES} for p in passengers[position:][:size]]
        if content_type == contracts.JSON_CONTENT_TYPE:
            body = json.dumps({"instances": chunk})
        else:
            buffer = io.StringIO(newline="")
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerows([schema.INFERENCE_COLUMN_NAMES] if header else [])
            writer.writerows([[dataset.format_value(p[name]) for name in schema.INFERENCE_COLUMN_NAMES] for p in chunk])
            body = buffer.getvalue()
        requests.append((body.encode("utf-8"), content_type, accept))
        position, step = position + size, step + 1
    return requests


def send(url: str, requests: Iterable[tuple[bytes, str, str]]) -> list[int]:
    """POST every request to url/invocations on one keep-alive connection; the HTTP statuses."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    statuses = []
    try:
        for body, content_type, accept in requests:
            connection.request("POST", "/invocations", body, {"Content-Type": content_type, "Accept": accept})
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        connection.close()
    return statuses


def simulate_and_check(
    server: Any,
    passengers_location: str | Path,
    baseline_location: str | Path,
    thresholds: Any,
    capture_dir: str | Path,
    report_dir: str | Path | None = None,
) -> tuple[bool, str]:
    """Send the passengers at `passengers_location` (a split CSV or folder) to the running `server`, capture the
    traffic into `capture_dir` (emptied first), check it against the baseline (model folder or baseline.json) with
    `thresholds` (config's MonitoringSettings or drift.Thresholds). (passed, one-line result) for the flow's table;
    passed is False when the check finds drift or the capture cannot be read."""
    capture_root = Path(capture_dir)
    shutil.rmtree(capture_root, ignore_errors=True)  # this run's traffic only
    records, _ = dataset.read_records(passengers_location)
    requests = request_bodies(records)
    writer = CaptureWriter(capture_root)
    attach(server, writer)
    try:
        statuses = send(server.url, requests)
    except OSError as error:
        return False, f"FAILED: cannot reach {server.url}: {error}"
    finally:
        attach(server, None)
    try:
        records_read = capture.read_location(capture_root)
        report = drift.check(records_read, baseline.load(baseline_location), drift.Thresholds.from_settings(thresholds))
    except (capture.CaptureFormatError, baseline.BaselineError) as error:
        return False, f"FAILED: {error}"
    print(drift_report.table(report))
    output = Path(report_dir) if report_dir else capture_root.parent / "drift"
    output.mkdir(parents=True, exist_ok=True)
    (output / drift.REPORT_FILE).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    answered = sum(1 for status in statuses if status == 200)
    sent = f"{len(records)} passengers in {len(requests)} requests ({answered} answered) captured"
    return report["status"] != drift.DRIFT, f"{sent}: {drift_report.headline(report)}"
