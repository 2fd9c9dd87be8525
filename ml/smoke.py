"""Phase 04: smoke test of a serving endpoint: one request of known passengers and the checks its response must pass.

Used by the local flow (over HTTP on loopback) and by the smoke-test Lambda against SageMaker endpoints, so both
judge a model by the same rules. Pure Python (no third-party imports): it runs in a plain Lambda runtime.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

# Passengers from the training data whose outcome any reasonable model gets right: a first-class woman survives,
# a third-class adult man does not. A model that fails these is broken, not merely inaccurate.
KNOWN_PASSENGERS: list[tuple[dict[str, Any], int]] = [
    (
        {
            "PassengerId": 2,
            "Pclass": 1,
            "Name": "Cumings, Mrs. John Bradley (Florence Briggs Thayer)",
            "Sex": "female",
            "Age": 38,
            "SibSp": 1,
            "Parch": 0,
            "Ticket": "PC 17599",
            "Fare": 71.2833,
            "Cabin": "C85",
            "Embarked": "C",
        },
        1,
    ),
    (
        {
            "PassengerId": 32,
            "Pclass": 1,
            "Name": "Spencer, Mrs. William Augustus (Marie Eugenie)",
            "Sex": "female",
            "Age": None,
            "SibSp": 1,
            "Parch": 0,
            "Ticket": "PC 17569",
            "Fare": 146.5208,
            "Cabin": "B78",
            "Embarked": "C",
        },
        1,
    ),
    (
        {
            "PassengerId": 1,
            "Pclass": 3,
            "Name": "Braund, Mr. Owen Harris",
            "Sex": "male",
            "Age": 22,
            "SibSp": 1,
            "Parch": 0,
            "Ticket": "A/5 21171",
            "Fare": 7.25,
            "Cabin": None,
            "Embarked": "S",
        },
        0,
    ),
    (
        {
            "PassengerId": 30,
            "Pclass": 3,
            "Name": "Todoroff, Mr. Lalio",
            "Sex": "male",
            "Age": None,
            "SibSp": 0,
            "Parch": 0,
            "Ticket": "349216",
            "Fare": 7.8958,
            "Cabin": None,
            "Embarked": "S",
        },
        0,
    ),
]


def smoke_request_body() -> bytes:
    """The JSON body of the smoke request (Content-Type: application/json)."""
    return json.dumps({"instances": [passenger for passenger, _ in KNOWN_PASSENGERS]}).encode("utf-8")


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class SmokeResult:
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks],
        }


def check_response(status: int, body: bytes, latency_ms: float, latency_budget_ms: float) -> SmokeResult:
    """Judge one response to smoke_request_body(): status, schema, known outcomes, latency."""
    result = SmokeResult()

    def record(name: str, passed: bool, detail: str) -> bool:
        result.checks.append(Check(name, passed, detail))
        return passed

    if not record("status", status == 200, f"HTTP {status}"):
        return result
    predictions = _predictions(body)
    if not record("schema", isinstance(predictions, list), _schema_detail(predictions)):
        return result
    for (passenger, expected), prediction in zip(KNOWN_PASSENGERS, predictions):
        record(
            f"passenger {passenger['PassengerId']}",
            prediction["survived"] == expected,
            f"expected survived={expected}, got {prediction['survived']} (p={prediction['probability']:.3f})",
        )
    record("latency", latency_ms <= latency_budget_ms, f"{latency_ms:.1f} ms (budget {latency_budget_ms:g} ms)")
    return result


def _predictions(body: bytes) -> Any:
    """The predictions list when the body honours the response schema, else a string saying what is wrong."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "body is not JSON"
    predictions = document.get("predictions") if isinstance(document, dict) else None
    if not isinstance(predictions, list) or len(predictions) != len(KNOWN_PASSENGERS):
        return f"expected {{'predictions': [...]}} with {len(KNOWN_PASSENGERS)} items"
    for index, item in enumerate(predictions):
        survived = item.get("survived") if isinstance(item, dict) else None
        probability = item.get("probability") if isinstance(item, dict) else None
        if survived not in (0, 1) or isinstance(survived, bool):
            return f"prediction {index}: 'survived' must be 0 or 1"
        if not isinstance(probability, (int, float)) or not (0.0 <= probability <= 1.0) or math.isnan(probability):
            return f"prediction {index}: 'probability' must be a number in [0, 1]"
    return predictions


def _schema_detail(predictions: Any) -> str:
    return f"{len(predictions)} predictions" if isinstance(predictions, list) else str(predictions)
