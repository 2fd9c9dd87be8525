"""Phase 06: what an environment's stacks hold that the observability stack watches, found in their construct trees.

Every Lambda function of the project is a `PowertoolsFunction` (constructs/python_function.py) with its own
dead-letter queue; every alarm is a `cloudwatch.Alarm`; every workflow a `sfn.StateMachine`. Walking the trees (not a
hand list) means a function, queue, alarm or workflow another change adds is monitored, drawn and summarized without
touching the observability stack. Names are read from the L1 resources, where the stacks set them from
config/names.py: the observability stack addresses them by name, so no CloudFormation export ties the stacks together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aws_cdk import Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_stepfunctions as sfn

from constructs import IConstruct
from constructs.python_function import PowertoolsFunction


@dataclass(frozen=True)
class MonitoredFunction:
    name: str  # the function name (its metrics' FunctionName dimension)
    dead_letter_queue: str  # the name of the queue its failed asynchronous invocations land in


@dataclass(frozen=True)
class Inventory:
    functions: tuple[MonitoredFunction, ...]
    alarms: tuple[str, ...]  # alarm names, in construct order
    state_machines: tuple[str, ...]


def _fixed(value: object, what: str, path: str) -> str:
    if not isinstance(value, str) or Token.is_unresolved(value):
        raise ValueError(f"{path}: {what} has no fixed name; give it one from config/names.py")
    return value


def collect(scopes: Iterable[IConstruct]) -> Inventory:
    """Everything watchable in `scopes` (stacks, usually), each once, in construct-tree order."""
    functions: dict[str, MonitoredFunction] = {}
    alarms: dict[str, None] = {}
    machines: dict[str, None] = {}
    for scope in scopes:
        for node in scope.node.find_all():
            if isinstance(node, PowertoolsFunction):
                name = _fixed(node.function.node.default_child.function_name, "function", node.node.path)
                queue = _fixed(node.dead_letter_queue.node.default_child.queue_name, "queue", node.node.path)
                functions[name] = MonitoredFunction(name, queue)
            elif isinstance(node, cloudwatch.Alarm):
                alarms[_fixed(node.node.default_child.alarm_name, "alarm", node.node.path)] = None
            elif isinstance(node, sfn.StateMachine):
                machines[_fixed(node.node.default_child.state_machine_name, "state machine", node.node.path)] = None
    return Inventory(tuple(functions.values()), tuple(alarms), tuple(machines))
