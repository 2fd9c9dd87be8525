"""The calls each state machine makes: every Task state of its definition (ASL), with its parameters made concrete.

A Task's resource names the integration (`arn:aws:states:::aws-sdk:<service>:<api>`, `:::sns:publish`,
`:::lambda:invoke`, `.waitForTaskToken` variants); its parameters are literals or JSONPath references. A reference
is followed to whatever writes that path: a Pass state's parameters (States.Format and States.UUID evaluated with
sample values), a Task's ResultSelector (a value read from an API response takes the values the workflows themselves
write to that field, e.g. an endpoint's EndpointConfigName is one of the config names they create), or the execution
input, taken from the triggers in the templates (EventBridge input transformers, schedules) and sample events.
A reference nothing explains is left as `<unresolved:PATH>` and reported, never guessed.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from access_model.assembly import Environment
from access_model.events import EventSamples
from access_model.requests import SAMPLE_ID, Call, Catalog, fill, iam_prefix, pascal

FORMAT = re.compile(r"^States\.Format\('((?:[^'\\]|\\.)*)'\s*(?:,(.*))?\)$", re.S)
MAX_CALLS_PER_TASK = 32
DYNAMODB_TYPES = ("S", "N")  # the type keys of a DynamoDB attribute value, {"S": "text"}


def unresolved(path: str) -> str:
    return f"<unresolved:{path}>"


@dataclass
class Producer:
    path: str  # the JSONPath it writes, e.g. $.names.model
    value: Any  # a literal, or an expression when `expression`
    expression: bool
    kind: str  # "pass" | "result" (a Pass state's literal Result) | "response" (a Task's API response)
    task: dict | None = None  # for "response": the Task state whose response it is


@dataclass
class Definition:
    name: str
    arn: str
    role: str
    document: dict
    inputs: list[dict] = field(default_factory=list)

    def states(self) -> Iterator[tuple[str, dict]]:
        def walk(states: dict) -> Iterator[tuple[str, dict]]:
            for name, state in states.items():
                yield name, state
                for branch in state.get("Branches", []):
                    yield from walk(branch["States"])
                if "Iterator" in state or "ItemProcessor" in state:
                    yield from walk((state.get("ItemProcessor") or state["Iterator"])["States"])

        yield from walk(self.document["States"])

    def producers(self) -> list[Producer]:
        found = []
        for _, state in self.states():
            result_path = state.get("ResultPath", "$")
            if result_path is None:
                continue
            if state["Type"] == "Pass" and "Parameters" in state:
                found += _flatten(state["Parameters"], result_path, "pass")
            elif state["Type"] == "Pass" and "Result" in state:
                found += _flatten(state["Result"], result_path, "result", literal=True)
            elif state["Type"] == "Task":
                if "ResultSelector" in state:
                    found += [
                        Producer(p.path, p.value, p.expression, "response", state)
                        for p in _flatten(state["ResultSelector"], result_path, "response")
                    ]
                else:
                    found.append(Producer(result_path, "$", True, "response", state))
        return found


def _flatten(value: Any, base: str, kind: str, literal: bool = False) -> list[Producer]:
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            expression = key.endswith(".$") and not literal
            name = key.removesuffix(".$") if expression else key
            path = f"{base}.{name}" if base != "$" else f"$.{name}"
            if isinstance(item, dict) and not expression:
                found += _flatten(item, path, kind, literal)
            else:
                found.append(Producer(path, item, expression, kind))
    else:
        found.append(Producer(base, value, False, kind))
    return found


def task_action(resource: str) -> str:
    """The IAM action a Task's resource ARN performs."""
    integration = resource.split(":::", 1)[-1] if ":::" in resource else resource
    integration = re.sub(r"\.(waitForTaskToken|sync(:2)?)$", "", integration)
    if integration.startswith("aws-sdk:"):
        _, service, api = integration.split(":", 2)
        return f"{iam_prefix(service)}:{pascal(api)}"
    if resource.startswith("arn:aws:lambda:") or integration == "lambda:invoke":
        return "lambda:InvokeFunction"
    service, api = integration.split(":", 1)
    return f"{iam_prefix(service)}:{pascal(api)}"


class StateMachines:
    """Every state machine of one environment, and the calls its Task states make."""

    def __init__(self, env: Environment, events: EventSamples, catalog: Catalog) -> None:
        self.env = env
        self.catalog = catalog
        self.definitions = []
        for resource in env.resources("AWS::StepFunctions::StateMachine"):
            arn = env.arn_of(resource)
            document = json.loads(resource.properties["DefinitionString"])
            definition = Definition(
                resource.properties["StateMachineName"], arn, resource.properties["RoleArn"], document
            )
            definition.inputs = events.inputs_for(arn)
            self.definitions.append(definition)
        self._producers = {d.name: d.producers() for d in self.definitions}

    def calls(self) -> list[Call]:
        calls = []
        for definition in self.definitions:
            for name, state in definition.states():
                if state["Type"] != "Task":
                    continue
                action = task_action(state["Resource"])
                origin = f"state machine {definition.name}, state {name}"
                for params in self.concrete(definition, state.get("Parameters", {})):
                    calls.append(Call(definition.role, action, params, origin))
        return calls

    # ---------------------------------------------------------------------------------------- parameter values
    def concrete(self, definition: Definition, parameters: Any) -> list[Any]:
        """Every concrete version of a Parameters block (one per combination of candidate values)."""
        options = self._options(definition, parameters)
        return options[:MAX_CALLS_PER_TASK]

    def _options(self, definition: Definition, value: Any) -> list[Any]:
        if isinstance(value, list):
            return [list(combo) for combo in itertools.product(*(self._options(definition, v) for v in value))]
        if not isinstance(value, dict):
            return [value]
        keys, choices = [], []
        for key, item in value.items():
            if key.endswith(".$"):
                keys.append(key.removesuffix(".$"))
                choices.append(self.expression(definition, item) or [unresolved(item)])
            else:
                keys.append(key)
                choices.append(self._options(definition, item))
        return [dict(zip(keys, combo)) for combo in itertools.islice(itertools.product(*choices), MAX_CALLS_PER_TASK)]

    def expression(self, definition: Definition, text: str, seen: frozenset = frozenset()) -> list[Any]:
        if text.startswith("$$."):
            return [self._context_object(definition, text)]
        if text.startswith("$"):
            return self.path(definition, text, seen)
        match = FORMAT.match(text)
        if match:
            template, arguments = match[1], _arguments(match[2] or "")
            pieces = [self._argument(definition, argument, seen) for argument in arguments]
            return [_format(template, combo) for combo in itertools.islice(itertools.product(*pieces), 8)]
        if text.startswith("States.UUID()"):
            return [SAMPLE_ID]
        return ["<runtime value>"]  # other intrinsics build messages and counts, never resource names

    def _argument(self, definition: Definition, argument: str, seen: frozenset) -> list[Any]:
        if argument.startswith("'"):
            return [argument[1:-1]]
        return self.expression(definition, argument, seen) or [unresolved(argument)]

    def _context_object(self, definition: Definition, text: str) -> str:
        if text.startswith("$$.Execution.Id"):
            return f"{definition.arn.replace(':stateMachine:', ':execution:')}:{SAMPLE_ID}"
        return f"<{text[3:]}>"

    def path(self, definition: Definition, path: str, seen: frozenset = frozenset()) -> list[Any]:
        if (definition.name, path) in seen or len(seen) > 12:
            return []
        seen = seen | {(definition.name, path)}
        values: list[Any] = []
        defaults: list[Any] = []
        matched = False
        for producer in self._producers[definition.name]:
            if producer.path != path and not path.startswith((producer.path + ".", producer.path + "[")):
                continue
            rest = path[len(producer.path) :]
            if producer.expression and producer.value == path:
                continue  # a Pass state that only carries the value on
            matched = True
            if producer.kind == "response":
                response_path = producer.value + rest
                field_name = response_path.rsplit(".", 1)[-1]
                if field_name in DYNAMODB_TYPES:  # an attribute of an item read back: what the workflows write there
                    values += self._item_attribute(".".join(response_path.rsplit(".", 2)[-2:]), seen)
                else:
                    values += self._round_trip(definition, producer.task, field_name, seen)
            elif producer.expression:
                values += self.expression(definition, producer.value + rest if rest else producer.value, seen)
            elif producer.kind == "result":
                defaults += _navigate(producer.value, rest)
            else:
                values += [o for v in _navigate(producer.value, rest) for o in self._options(definition, v)]
        if not matched:
            values = [v for sample in definition.inputs for v in _navigate(sample, path[1:])]
        unique = {json.dumps(value, sort_keys=True): value for value in values or defaults}
        return [unique[key] for key in sorted(unique)]

    def _item_attribute(self, attribute: str, seen: frozenset) -> list[Any]:
        """The values the workflows' Pass states write as a DynamoDB item attribute (`<name>.S`), e.g. the release
        records' model_package_arn that the champion check reads back."""
        values = []
        for definition in self.definitions:
            for producer in self._producers[definition.name]:
                if producer.kind == "pass" and producer.expression and producer.path.endswith(f".{attribute}"):
                    values += self.expression(definition, producer.value, seen)
        return values

    def _round_trip(self, reader: Definition, task: dict, field_name: str, seen: frozenset) -> list[Any]:
        """The values a response field can hold: what the workflows themselves write as that parameter (preferring
        calls about the same resource, e.g. the same EndpointName), or, for an ARN the call creates, that ARN."""
        identity = {k: v for k, v in task.get("Parameters", {}).items() if isinstance(v, str) and not k.endswith(".$")}
        writers, same = [], []
        for definition in self.definitions:
            for _, state in definition.states():
                parameters = state.get("Parameters") if state["Type"] == "Task" else None
                if not isinstance(parameters, dict) or state is task:
                    continue
                if field_name in parameters:
                    found = [parameters[field_name]]
                elif f"{field_name}.$" in parameters:
                    found = self.expression(definition, parameters[f"{field_name}.$"], seen)
                else:
                    continue
                writers += found
                if any(parameters.get(k) == v for k, v in identity.items()):
                    same += found
        if same or writers:
            return same or writers
        if field_name.endswith("Arn"):
            return self._created_arn(reader, task, field_name.removesuffix("Arn"), seen)
        return []

    def _created_arn(self, definition: Definition, task: dict, kind: str, seen: frozenset) -> list[str]:
        """The ARN of the resource a call creates (IAM's ARN format for it, filled from the call's parameters and
        SAMPLE_ID for the part AWS generates)."""
        wanted = re.sub(r"(?<!^)(?=[A-Z])", "-", kind).lower()
        action = task_action(task["Resource"])
        arns = []
        template = self.catalog.arn_format(action.split(":", 1)[0], wanted)
        if template is None:
            return []
        for params in self.concrete(definition, task.get("Parameters", {})):
            arns += fill(template, params, self.env.names, default=SAMPLE_ID)
        return arns


def _arguments(text: str) -> list[str]:
    """Split States.Format arguments on top-level commas (quoted strings and nested calls kept whole)."""
    arguments, depth, quoted, current = [], 0, False, ""
    for char in text:
        if char == "'" and not current.endswith("\\"):
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "," and not quoted and depth == 0:
            arguments.append(current.strip())
            current = ""
        else:
            current += char
    return [*arguments, current.strip()] if current.strip() else arguments


def _format(template: str, values: tuple) -> str:
    pieces = template.split("{}")
    text = pieces[0]
    for value, piece in zip(values, pieces[1:]):
        text += (value if isinstance(value, str) else json.dumps(value)) + piece
    return text


def _navigate(value: Any, rest: str) -> list[Any]:
    for key in [k for k in rest.split(".") if k]:
        if not isinstance(value, dict) or key not in value:
            return []
        value = value[key]
    return [value]
