"""Sample inputs of the things EventBridge rules and Scheduler schedules start, built from the templates.

An event is sampled from the rule's own pattern (the first literal of each field, `prefix` matches extended), plus
the fields an AWS service documents for that event type and the pattern does not constrain (SAMPLE_FIELDS), plus,
for the project's own events, the detail its code publishes (the recorded Lambda calls). The target's input
(constant, InputPath or InputTransformer) is then applied to it exactly as EventBridge does.
"""

from __future__ import annotations

import json
import re
from typing import Any

from access_model.assembly import Environment

# Fields of AWS service events that rule patterns do not pin down, per (source, detail-type). Reviewed against:
# https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html#eventbridge-model-package
SAMPLE_FIELDS = {
    ("aws.sagemaker", "SageMaker Model Package State Change"): {
        "ModelPackageArn": "arn:aws:sagemaker:{region}:{account}:model-package/{ModelPackageGroupName}/1",
        "ModelPackageVersion": 1,
    },
}
PLACEHOLDER = re.compile(r'"<([A-Za-z0-9_.-]+)>"|<([A-Za-z0-9_.-]+)>')


class EventSamples:
    def __init__(self, env: Environment, published: list[dict] | None = None) -> None:
        """published: events the project's code puts on a bus (source, detail-type, detail)."""
        self.env = env
        self.published = published or []

    def event(self, pattern: dict) -> list[dict]:
        """Sample events matching a rule pattern: one per published event it matches, else one from the pattern."""
        base = _sample(pattern)
        matching = [
            event
            for event in self.published
            if event["source"] in pattern.get("source", [event["source"]])
            and event["detail-type"] in pattern.get("detail-type", [event["detail-type"]])
        ]
        if matching:
            return [{**base, "detail": {**base.get("detail", {}), **event["detail"]}} for event in matching]
        source, kind = base.get("source"), base.get("detail-type")
        detail = dict(base.get("detail", {}))
        for name, value in SAMPLE_FIELDS.get((source, kind), {}).items():
            values = {"region": self.env.region, "account": self.env.account, **detail}
            detail.setdefault(name, value.format(**values) if isinstance(value, str) else value)
        return [{**base, "detail": detail, "account": self.env.account, "region": self.env.region}]

    def inputs_for(self, target_arn: str) -> list[dict]:
        """Every sample input a rule or schedule of this environment sends to the target."""
        inputs: list[dict] = []
        for rule in self.env.resources("AWS::Events::Rule"):
            for target in rule.properties.get("Targets", []):
                if target["Arn"] != target_arn:
                    continue
                for event in self.event(rule.properties.get("EventPattern", {})):
                    inputs.append(_apply(target, event))
        for schedule in self.env.resources("AWS::Scheduler::Schedule"):
            target = schedule.properties["Target"]
            if target["Arn"] == target_arn:
                inputs.append(json.loads(target.get("Input", "{}")))
        return inputs


def _sample(pattern: Any) -> Any:
    if isinstance(pattern, dict):
        sampled = {}
        for key, matchers in pattern.items():
            value = _sample(matchers)
            if value is not None:
                sampled[key] = value
        return sampled
    if isinstance(pattern, list):
        for matcher in pattern:
            if isinstance(matcher, str | int | float | bool):
                return matcher
            if isinstance(matcher, dict) and "prefix" in matcher:
                return f"{matcher['prefix']}sample"
        return None
    return pattern


def _jsonpath(event: dict, path: str) -> Any:
    value: Any = event
    for key in [k for k in path.removeprefix("$").split(".") if k]:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _apply(target: dict, event: dict) -> dict:
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        return _jsonpath(event, target["InputPath"])
    transformer = target.get("InputTransformer")
    if not transformer:
        return event
    values = {name: _jsonpath(event, path) for name, path in transformer.get("InputPathsMap", {}).items()}

    def replace(match: re.Match) -> str:
        quoted, bare = match[1], match[2]
        value = values.get(quoted or bare)
        return json.dumps(value if quoted is None or isinstance(value, str) else json.dumps(value))

    return json.loads(PLACEHOLDER.sub(replace, transformer["InputTemplate"]))
