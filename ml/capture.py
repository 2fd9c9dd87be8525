"""SageMaker data-capture files: the one reader (drift check, monitor Lambda) and writer (local server) of the format.

A real-time endpoint with DataCaptureConfig writes JSON Lines objects under
`<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`, one line per captured invocation
(AWS documentation, "Capture data from real-time endpoint", section "View Captured Data"):

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "...", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT",
                                        "data": "...", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "aaaaaaaa-...", "inferenceTime": "2022-02-14T17:25:49Z"},
     "eventVersion": "0"}

`encoding` is JSON or CSV (data is the body as text) for the content types listed in the endpoint config's
CaptureContentTypeHeader, and BASE64 for any other (the API reference of CaptureContentTypeHeader: "If no headers
are specified SageMaker AI will by default base64 encode"). Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ml import contracts
from ml.payload import media_type

ENCODINGS = ("JSON", "CSV", "BASE64")
SECTIONS = {"endpointInput": "INPUT", "endpointOutput": "OUTPUT"}
EVENT_VERSION = "0"
DEFAULT_VARIANT = "AllTraffic"  # the variant name the promotion workflow gives every endpoint
# What the promotion workflow's DataCaptureConfig lists: JSON bodies are captured as text; CSV as BASE64 unless the
# endpoint config also lists CsvContentTypes (the reader handles both).
JSON_CONTENT_TYPES: tuple[str, ...] = (contracts.JSON_CONTENT_TYPE,)
CSV_CONTENT_TYPES: tuple[str, ...] = ()
FILE_SUFFIX = ".jsonl"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class CaptureFormatError(ValueError):
    """A capture file is not in the data-capture format: names the file and the line (1-based)."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")
        self.source, self.line, self.reason = source, line, reason


@dataclass(frozen=True)
class Payload:
    """One side of an invocation as captured: content type, encoding and data as written."""

    content_type: str | None
    encoding: str
    data: str

    def body(self) -> bytes:
        """The body bytes; ValueError when BASE64 data does not decode."""
        if self.encoding == "BASE64":
            try:
                return base64.b64decode(self.data, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("BASE64 data does not decode") from None
        return self.data.encode("utf-8")


@dataclass(frozen=True)
class Record:
    """One captured invocation and where it was read (file and line, for reports)."""

    source: str
    line: int
    event_id: str | None
    inference_time: str | None
    event_version: str | None
    input: Payload | None
    output: Payload | None


def parse_lines(text: str, source: str) -> list[Record]:
    """Every record of one capture file's text (an S3 object body in the Lambda); CaptureFormatError on a bad line."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            records.append(_record(line, source, number))
    return records


def _record(line: str, source: str, number: int) -> Record:
    try:
        document = json.loads(line)
    except ValueError as error:
        raise CaptureFormatError(source, number, f"not a JSON object: {error}") from None
    capture = document.get("captureData") if isinstance(document, dict) else None
    if not isinstance(capture, dict) or not (capture.keys() & SECTIONS.keys()):
        raise CaptureFormatError(source, number, "no captureData.endpointInput or captureData.endpointOutput")
    payloads = {key: _payload(capture.get(key), key, source, number) for key in SECTIONS}
    metadata = document.get("eventMetadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    version = document.get("eventVersion")
    return Record(
        source=source,
        line=number,
        event_id=_text(metadata.get("eventId")),
        inference_time=_text(metadata.get("inferenceTime")),
        event_version=_text(version),
        input=payloads["endpointInput"],
        output=payloads["endpointOutput"],
    )


def _payload(section: Any, key: str, source: str, number: int) -> Payload | None:
    if section is None:
        return None  # CaptureMode Input or Output only
    if not isinstance(section, dict):
        raise CaptureFormatError(source, number, f"captureData.{key} is not an object")
    encoding, data, mode = section.get("encoding"), section.get("data"), section.get("mode")
    if encoding not in ENCODINGS:
        raise CaptureFormatError(source, number, f"captureData.{key}.encoding {encoding!r} is not one of {ENCODINGS}")
    if not isinstance(data, str):
        raise CaptureFormatError(source, number, f"captureData.{key}.data is not a string")
    if mode is not None and mode != SECTIONS[key]:
        raise CaptureFormatError(source, number, f"captureData.{key}.mode is {mode!r}, expected {SECTIONS[key]!r}")
    return Payload(_text(section.get("observedContentType")), encoding, data)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def read_location(location: str | Path) -> list[Record]:
    """Every record of a capture file, or of every *.jsonl below a folder (sorted paths: a reproducible order)."""
    path = Path(location)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob(f"*{FILE_SUFFIX}") if p.is_file())
        if not files:
            raise CaptureFormatError(str(path), None, f"no *{FILE_SUFFIX} capture file in this folder or below it")
    else:
        raise CaptureFormatError(str(path), None, "no such file or folder")
    records = []
    for file in files:
        data = file.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise CaptureFormatError(str(file), line, "not UTF-8 text") from None
        records.extend(parse_lines(text, str(file)))
    return records


# ---------------------------------------------------------------------------------------------- writing
def encode_payload(
    body: bytes,
    content_type: str | None,
    mode: str,
    json_content_types: Sequence[str] = JSON_CONTENT_TYPES,
    csv_content_types: Sequence[str] = CSV_CONTENT_TYPES,
) -> dict[str, str]:
    """One side of a record as SageMaker writes it: text for the listed JSON/CSV types, else BASE64."""
    kind = media_type(content_type)
    text_encoding = "JSON" if kind in json_content_types else "CSV" if kind in csv_content_types else None
    try:
        data = body.decode("utf-8") if text_encoding else None
    except UnicodeDecodeError:
        data = None
    if data is None:
        text_encoding, data = "BASE64", base64.b64encode(body).decode("ascii")
    return {"observedContentType": content_type or "", "mode": mode, "data": data, "encoding": text_encoding}


def make_record(
    request: tuple[bytes, str | None],
    response: tuple[bytes, str | None],
    event_id: str,
    inference_time: datetime,
    content_types: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """A capture record of one invocation: (body, content type) of the request and of the response.
    `content_types` = {"json": [...], "csv": [...]}, as the endpoint config's CaptureContentTypeHeader."""
    types = content_types or {"json": JSON_CONTENT_TYPES, "csv": CSV_CONTENT_TYPES}
    json_types, csv_types = types.get("json", ()), types.get("csv", ())
    return {
        "captureData": {
            "endpointInput": encode_payload(*request, "INPUT", json_types, csv_types),
            "endpointOutput": encode_payload(*response, "OUTPUT", json_types, csv_types),
        },
        "eventMetadata": {"eventId": event_id, "inferenceTime": inference_time.strftime(TIME_FORMAT)},
        "eventVersion": EVENT_VERSION,
    }


def dumps(record: Mapping[str, Any]) -> str:
    """One JSON line (compact, as SageMaker writes it)."""
    return json.dumps(record, separators=(",", ":")) + "\n"


def hour_folder(endpoint: str, variant: str, when: datetime) -> str:
    """`<endpoint>/<variant>/yyyy/mm/dd/hh`, the key layout below the capture prefix (UTC hours)."""
    return f"{endpoint}/{variant}/{when.astimezone(timezone.utc):%Y/%m/%d/%H}"


def window_prefixes(prefix: str, endpoint: str, variant: str, end: datetime, hours: int) -> list[str]:
    """The S3 key prefixes of the `hours` complete hours before the hour `end` falls in, oldest first: what the
    monitor job lists to read one window. The current hour is left out because its files are still being delivered
    (capture reaches S3 minutes after the invocation)."""
    if hours < 1:
        raise ValueError("a window is at least one hour")
    current = end.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    base = prefix.strip("/")
    starts = [current - timedelta(hours=offset) for offset in range(hours, 0, -1)]
    return [f"{base}/{hour_folder(endpoint, variant, start)}/".lstrip("/") for start in starts]
