"""Record the AWS calls the Lambda handlers make while the tests run them against moto (botocore's API-call entry
point, patched), in a form that does not depend on the test: each parameter that came from the function's
environment or its event is written as a placeholder, `${env:DATA_BUCKET}`, `${event:ResourceProperties.SourceKey}`,
whatever follows a value taken from the environment (a key under `${env:CURATED_PREFIX}`) as `*`, and any other
literal the handler's code does not contain (test data: version ids, row counts) as `<value>`. A list keeps each
distinct normalized item once, so a batch (metric data points) is recorded as the shapes of its items.

tests/access/lambda_calls.json holds every call so recorded. The root conftest checks, in every test, that each
call a handler makes is in that file, so a new call fails the test that makes it until `make access-record`
records it; the access model (scripts/access_model/lambdas.py) evaluates each recorded call as the function's role.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import botocore.client

ROOT = Path(__file__).resolve().parents[2]
LAMBDAS = ROOT / "lambdas"
FIXTURE = Path(__file__).with_name("lambda_calls.json")
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")
API_CALL = botocore.client.BaseClient._make_api_call  # the unpatched entry point, whatever recorder is installed


@functools.cache
def _handler_sources() -> str:
    return "\n".join(path.read_text() for path in sorted(LAMBDAS.glob("*/*.py")))


class Recorder:
    def __init__(self) -> None:
        self.calls: set[str] = set()  # normalized calls, as JSON text
        self._sources = _handler_sources()

    @contextlib.contextmanager
    def installed(self) -> Iterator[Recorder]:
        """Record while the block runs (its own patch, so other fixtures' monkeypatches unwind independently)."""
        recorder = self

        def make_api_call(client, operation_name, api_params):
            recorder.record(client.meta.service_model.service_name, operation_name, api_params)
            return API_CALL(client, operation_name, api_params)

        with mock.patch.object(botocore.client.BaseClient, "_make_api_call", make_api_call):
            yield self

    def record(self, service: str, operation: str, params: dict) -> None:
        function, event = self._caller()
        if function is None:
            return  # a test or moto itself, not a handler
        substitutions = self._substitutions(event)
        entry = {"function": function, "service": service, "operation": operation}
        entry["params"] = _normalize(params, substitutions, self._sources)
        self.calls.add(json.dumps(entry, sort_keys=True))

    @staticmethod
    def _caller() -> tuple[str | None, dict]:
        """The lambdas/<function> folder of the handler on the stack, and its event; (None, {}) when no handler runs.

        Only a call made inside a handler is the function's: a script that reuses a handler module's helper (the
        endpoint smoke test of scripts/endpoint_smoke.py) calls AWS as the operator, not as the Lambda role."""
        frame = sys._getframe(2)
        while frame is not None:
            path = Path(frame.f_code.co_filename)
            if path.is_relative_to(LAMBDAS) and frame.f_code.co_name == "handler":
                event = frame.f_locals.get("event")
                function = path.relative_to(ROOT).parts[0] + "/" + path.relative_to(LAMBDAS).parts[0]
                return function, event if isinstance(event, dict) else {}
            frame = frame.f_back
        return None, {}

    def _substitutions(self, event: dict) -> list[tuple[str, str]]:
        """(value, placeholder) pairs, longest value first: the handler's environment variables (those its code
        names) and the leaves of its event."""
        pairs = [
            (value, f"${{env:{name}}}")
            for name, value in os.environ.items()
            if ENV_NAME.match(name) and len(value) >= 3 and f'"{name}"' in self._sources
        ]
        pairs += [(str(value), f"${{event:{path}}}") for path, value in _leaves(event) if len(str(value)) >= 3]
        return sorted(pairs, key=lambda pair: (-len(pair[0]), pair[1]))


def _leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, f"{path}.{key}" if path else key)]
    return [] if isinstance(value, list) else [(path, value)]


def _normalize(value: Any, substitutions: list[tuple[str, str]], sources: str) -> Any:
    if isinstance(value, dict):
        return {key: _normalize(item, substitutions, sources) for key, item in sorted(value.items())}
    if isinstance(value, list):
        distinct: list = []
        for item in (_normalize(item, substitutions, sources) for item in value):
            if item not in distinct:
                distinct.append(item)
        return distinct
    if isinstance(value, bytes | bytearray) or hasattr(value, "read"):
        return "<body>"
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.dumps(_normalize(json.loads(value), substitutions, sources), sort_keys=True)
        except ValueError:
            pass
    if isinstance(value, str):
        alternatives = _placeholders(value, substitutions)
        if alternatives:
            return alternatives[0] if len(alternatives) == 1 else alternatives
    # A literal the handler's code contains is a constant of the code; anything else is test data. A number counts
    # only as a whole literal (0.0 is not a constant of code that says 1000.0).
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value if re.search(rf"(?<![\w.]){re.escape(str(value))}(?![\w.])", sources) else "<value>"
    return value if f"{value}" in sources else "<value>"


def _placeholders(text: str, substitutions: list[tuple[str, str]]) -> list[str]:
    """Every way to write `text` with placeholders: exact matches, then a form built from environment values
    (what follows one is test data: `*`)."""
    found = sorted({placeholder for value, placeholder in substitutions if value == text})
    built = _built(text, [pair for pair in substitutions if pair[1].startswith("${env:")])
    return found + ([built] if built and built not in found else [])


def _built(text: str, substitutions: list[tuple[str, str]]) -> str | None:
    """`s3://${env:DATA_BUCKET}/${env:CURATED_PREFIX}*` from a name-like text (a message is test data as a whole)."""
    if "\n" in text or len(text) > 300:
        return None
    for value, placeholder in substitutions:
        if value in text:
            head, _, tail = text.partition(value)
            rest = (_built(tail, substitutions) or "*") if tail else ""
            return head + placeholder + rest
    return None


@functools.cache
def known() -> frozenset[str]:
    """The calls tests/access/lambda_calls.json holds."""
    if not FIXTURE.exists():
        return frozenset()
    return frozenset(json.dumps(entry, sort_keys=True) for entry in json.loads(FIXTURE.read_text()))


def save(calls: set[str]) -> None:
    entries = sorted((json.loads(call) for call in calls), key=lambda e: json.dumps(e, sort_keys=True))
    FIXTURE.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")
