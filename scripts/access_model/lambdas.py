"""The calls each Lambda function makes: the calls its handler made under test (tests/access/lambda_calls.json),
with each placeholder filled from what the deployed function gets.

A function is matched to its lambdas/<name>/ folder by its code asset in the cloud assembly (same handler file).
`${env:NAME}` takes the function's environment variable from the template, `${event:path}` the matching field of
each event the function is sent: a state machine's lambda:invoke payload, a custom resource's properties, an
EventBridge rule's sample event. A placeholder with alternatives takes the first the function can fill; `*` (the
rest of a key after a prefix) becomes `sample`. A call that names something nothing fills stays `<unresolved:...>`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from access_model.assembly import Environment, Resource
from access_model.events import EventSamples
from access_model.requests import Call, iam_prefix

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "access" / "lambda_calls.json"
PLACEHOLDER = re.compile(r"\$\{(env|event):([^}]+)\}")


class Function:
    def __init__(self, env: Environment, resource: Resource, events: list[dict]) -> None:
        self.resource = resource
        self.name = resource.properties["FunctionName"]
        self.arn = env.arn_of(resource)
        self.role = resource.properties["Role"]
        self.variables = resource.properties.get("Environment", {}).get("Variables", {})
        self.events = events or [{}]
        self.folder = code_folder(env, resource)

    def fill(self, value: Any, event: dict) -> Any:
        if isinstance(value, dict):
            return {key: self.fill(item, event) for key, item in value.items()}
        if isinstance(value, list) and value and all(isinstance(v, str) and "${" in v for v in value):
            for alternative in value:  # alternatives: the first this function can fill
                filled = self.fill(alternative, event)
                if "<unresolved:" not in str(filled):
                    return filled
            return self.fill(value[0], event)
        if isinstance(value, list):
            return [self.fill(item, event) for item in value]
        if not isinstance(value, str):
            return value
        if value.startswith("{") and "${" in value:
            return json.dumps(self.fill(json.loads(value), event), sort_keys=True)

        def replace(match: re.Match) -> str:
            kind, name = match[1], match[2]
            if kind == "env":
                return str(self.variables.get(name, f"<unresolved:{match[0]}>"))
            found = _at(event, name)
            return f"<unresolved:{match[0]}>" if found is None else str(found)

        return PLACEHOLDER.sub(replace, value).replace("*", "sample")


def _at(value: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def code_folder(env: Environment, resource: Resource) -> str | None:
    """lambdas/<name> whose handler file is the one in the function's code asset."""
    key = resource.properties.get("Code", {}).get("S3Key", "")
    asset_hash = key.split(".", 1)[0]
    assets = json.loads((env.outdir / f"{resource.stack}.assets.json").read_text()).get("files", {})
    if asset_hash not in assets:
        return None
    module = resource.properties["Handler"].rsplit(".", 1)[0].replace(".", "/") + ".py"
    deployed = env.outdir / assets[asset_hash]["source"]["path"] / module
    for candidate in sorted((ROOT / "lambdas").glob(f"*/{module}")):
        if deployed.is_file() and candidate.read_bytes() == deployed.read_bytes():
            return str(candidate.parent.relative_to(ROOT))
    return None


class Lambdas:
    def __init__(self, env: Environment, recorded: list[dict] | None = None) -> None:
        self.env = env
        self.recorded = recorded if recorded is not None else json.loads(FIXTURE.read_text())

    def functions(self, invocations: list[Call], events: EventSamples) -> list[Function]:
        functions = []
        for resource in self.env.resources("AWS::Lambda::Function"):
            arn = self.env.arn_of(resource)
            name = resource.properties["FunctionName"]
            sent = [c.params.get("Payload", {}) for c in invocations if c.params.get("FunctionName") in (arn, name)]
            sent += [
                {"RequestType": "Create", "ResourceProperties": custom.properties}
                for custom in self.env.resources()
                if custom.type.startswith("Custom::") and custom.properties.get("ServiceToken") == arn
            ]
            sent += events.inputs_for(arn)
            functions.append(Function(self.env, resource, sent))
        return functions

    def calls(self, functions: list[Function]) -> list[Call]:
        calls = []
        for function in functions:
            for entry in self.recorded:
                if entry["function"] != function.folder:
                    continue
                action = f"{iam_prefix(entry['service'])}:{entry['operation']}"
                origin = f"Lambda {function.name} ({function.folder}): {entry['service']} {entry['operation']}"
                for event in function.events:
                    calls.append(Call(function.role, action, function.fill(entry["params"], event), origin))
        return calls

    def published_events(self, functions: list[Function]) -> list[dict]:
        """The custom events the functions put on a bus (as EventBridge delivers them to rules)."""
        published = []
        for call in self.calls(functions):
            if call.action != "events:PutEvents":
                continue
            for entry in call.params.get("Entries", []):
                detail = json.loads(entry["Detail"]) if isinstance(entry.get("Detail"), str) else {}
                published.append(
                    {"source": entry.get("Source"), "detail-type": entry.get("DetailType"), "detail": detail}
                )
        return published
