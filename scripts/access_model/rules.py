"""The reviewed table (extra_permissions.toml): what AWS documents a call or a configured resource needs besides the
action itself, one rule per row with the documentation page that states it.

A rule fires on a request (`when_action`, optionally only when the call has a parameter or its resource is
encrypted with a customer managed key) or on a template resource (`when_resource`, optionally for each item of a
list property). Its requests are templates: `{Path.To[].Value}` reads the call's parameters (or the resource's
properties), `{each.X}` the current list item, `{caller}`, `{resource}`, `{key}`, `{arn}`, `{region}`, `{account}`
the context, and `{@function:...}` one of the lookups across calls and templates (links.py). A list value makes one
request per item. `uri` entries expand an S3 URI into the object (and, with `list = true`, bucket) requests.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from access_model.requests import Call

TABLE = Path(__file__).with_name("extra_permissions.toml")
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
FILE_LIKE = re.compile(r"\.[A-Za-z0-9]+$")
SAMPLE_OBJECT = "sample"


@dataclass
class Rule:
    id: str
    doc: str
    why: str = ""
    call: str | None = None  # for an [[operation]]: the API operation(s) it maps
    when_action: str | None = None
    when_resource: str | None = None
    each: str | None = None
    when_param: list[str] = field(default_factory=list)
    when_equals: dict[str, Any] = field(default_factory=dict)
    when_encrypted: bool = False
    principal: str = "{caller}"
    requests: list[dict] = field(default_factory=list)


@dataclass
class Table:
    rules: list[Rule]
    operations: list[Rule]
    mlflow: dict[str, list[str]]

    def operation(self, action: str) -> Rule | None:
        for operation in self.operations:
            if action.lower() in (name.strip().lower() for name in (operation.call or "").split(",")):
                return operation
        return None


def load_table(path: Path = TABLE) -> Table:
    table = tomllib.loads(path.read_text())
    return Table(
        [Rule(**row) for row in table["rule"]], [Rule(**row) for row in table["operation"]], table.get("mlflow", {})
    )


@dataclass
class Scope:
    """What a rule's templates can read."""

    values: dict[str, Any]  # parameters or resource properties
    builtins: dict[str, Any]
    functions: dict[str, Callable[[str], list[str]]]

    def lookup(self, expression: str) -> list[Any]:
        expression = expression.strip()
        if expression.startswith("@"):  # a function of the values its argument expression gives
            name, _, argument = expression[1:].partition(":")
            return [out for value in self.lookup(argument) for out in self.functions[name](str(value))]
        expression, _, pattern = expression.partition("~")
        values = self._source(expression)
        if pattern:
            regex = re.compile(pattern)
            values = [m[1] for v in values if (m := regex.search(str(v)))]
        return values

    def _source(self, expression: str) -> list[Any]:
        if expression in self.builtins:
            value = self.builtins[expression]
            return [] if value is None else value if isinstance(value, list) else [value]
        if expression.startswith("each."):
            return values_at(self.builtins.get("each", {}), expression[5:])
        if expression.startswith("'"):
            return [expression.strip("'")]
        return values_at(self.values, expression)

    def render(self, template: str) -> list[str]:
        names = PLACEHOLDER.findall(template)
        options = [[str(v) for v in self.lookup(name)] for name in names]
        rendered = []
        for combo in itertools.product(*options):
            text = template
            for name, value in zip(names, combo):
                text = text.replace("{" + name + "}", value, 1)
            rendered.append(text)
        return rendered


def values_at(value: Any, path: str) -> list[Any]:
    """The values at a dotted path; `[]` steps into every list item."""
    current = [value]
    for part in [p for p in path.split(".") if p]:
        each = part.endswith("[]")
        key = part.removesuffix("[]")
        nxt = []
        for item in current:
            if isinstance(item, dict) and key in item:
                found = item[key]
                nxt += found if each and isinstance(found, list) else [found]
        current = nxt
    return [v for v in current if v not in (None, "", [], {})]


def applies(rule: Rule, scope: Scope, encrypted: bool) -> bool:
    if rule.when_encrypted and not encrypted:
        return False
    if any(not scope.lookup(path) for path in rule.when_param):
        return False
    return all(str(v) in map(str, scope.lookup(path)) for path, v in rule.when_equals.items())


def matches_action(rule: Rule, action: str) -> bool:
    return rule.when_action is not None and any(
        fnmatch.fnmatch(action.lower(), pattern.strip().lower()) for pattern in rule.when_action.split(",")
    )


def derive(rule: Rule, scope: Scope, origin: str) -> list[Call]:
    """The calls a rule adds in this scope (each one's resources already concrete)."""
    calls = []
    label = f"{origin} -> {rule.id}" if rule.call is None else origin
    for principal in scope.render(rule.principal):
        for entry in rule.requests:
            if ("if" in entry and not scope.lookup(entry["if"])) or (
                "unless" in entry and scope.lookup(entry["unless"])
            ):
                continue
            context = {}
            for key, template in entry.get("context", {}).items():
                rendered = scope.render(template)
                if rendered:
                    context[key] = _one_or_many(rendered)
            if "uri" in entry:
                for uri in scope.render(entry["uri"]):
                    calls += s3_uri_calls(principal, uri, entry["access"], entry.get("list", False), label)
                continue
            for action in scope.render(entry["action"]):
                resources = scope.render(entry.get("resource", "*"))
                if resources:
                    calls.append(Call(principal, action, {}, label, context=context, resources=resources))
    return calls


def _one_or_many(values: list[str]) -> Any:
    return values[0] if len(values) == 1 else values


def s3_uri_calls(principal: str, uri: str, access: str, listing: bool, origin: str) -> list[Call]:
    """What reading or writing an S3 URI (an object, or a prefix holding objects) is authorized as."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    obj = key if FILE_LIKE.search(key) else f"{key.rstrip('/')}/{SAMPLE_OBJECT}".lstrip("/")
    calls = []
    if access == "read":
        calls.append(Call(principal, "s3:GetObject", {}, origin, resources=[f"arn:aws:s3:::{bucket}/{obj}"]))
        if listing:
            context = {"s3:prefix": key}
            calls.append(
                Call(principal, "s3:ListBucket", {}, origin, context=context, resources=[f"arn:aws:s3:::{bucket}"])
            )
    else:
        calls.append(Call(principal, "s3:PutObject", {}, origin, resources=[f"arn:aws:s3:::{bucket}/{obj}"]))
    return calls
