"""The access model of one environment: every call the system makes, the IAM requests they are authorized as, and
the evaluator's verdict on each, with the statements that decide it.

Calls come from the state machines (asl.py), the SageMaker pipelines (pipeline.py), the Lambda handlers
(lambdas.py) and the reviewed rules (rules.py, extra_permissions.toml), which add what AWS documents for a call
or a configured resource. Each request is evaluated against the principal's identity policies and the resource's
policy by @cloud-copilot/iam-simulate (evaluator.py), never by comparing strings here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from access_model.asl import StateMachines
from access_model.assembly import Environment
from access_model.evaluator import Evaluator
from access_model.events import EventSamples
from access_model.lambdas import Lambdas
from access_model.links import Links
from access_model.pipeline import Pipelines
from access_model.policies import Policies
from access_model.requests import Call, Catalog, Request, freeze
from access_model.rules import Scope, Table, applies, derive, load_table, matches_action, values_at

UNRESOLVED = "Unresolved"
UNKNOWN_NAMES = ("<unresolved:", "<value>")  # what the derivation writes where it cannot name something
UNKNOWN_ACTION = "UnknownAction"
ALLOWED = "Allowed"


@dataclass
class Result:
    request: Request
    verdict: str
    allowed_by: list[str] = field(default_factory=list)
    denied_by: list[str] = field(default_factory=list)
    note: str = ""
    origins: list[str] = field(default_factory=list)

    @property
    def denied(self) -> bool:
        return self.verdict != ALLOWED


class Model:
    def __init__(self, env: Environment, evaluator: Evaluator, recorded: list[dict] | None = None) -> None:
        self.env = env
        self.evaluator = evaluator
        self.policies = Policies(env)
        self.table: Table = load_table()
        self.catalog = Catalog(evaluator)
        self.lambdas = Lambdas(env, recorded)

    # -------------------------------------------------------------------------------------------- calls
    def calls(self) -> tuple[list[Call], Links]:
        env = self.env
        first = self.lambdas.functions([], EventSamples(env))
        events = EventSamples(env, self.lambdas.published_events(first))
        machines = StateMachines(env, events, self.catalog)
        calls = machines.calls()
        invocations = [call for call in calls if call.action == "lambda:InvokeFunction"]
        calls += self.lambdas.calls(self.lambdas.functions(invocations, events))
        pipelines = Pipelines(env, [call for call in calls if call.action == "sagemaker:StartPipelineExecution"])
        calls += pipelines.calls()
        links = Links(env, calls, pipelines.model_packages(), self.table.mlflow)
        return calls + self._resource_rule_calls(links), links

    def _resource_rule_calls(self, links: Links) -> list[Call]:
        calls = []
        for rule in self.table.rules:
            if not rule.when_resource:
                continue
            kinds = [kind.strip() for kind in rule.when_resource.split(",")]
            for resource in self.env.resources(*kinds):
                builtins = {**self._builtins(), "arn": self._arn(resource)}
                items = values_at(resource.properties, rule.each) if rule.each else [None]
                for item in items:
                    scope = Scope(resource.properties, {**builtins, "each": item}, links.functions())
                    if applies(rule, scope, encrypted=False):
                        calls += derive(rule, scope, f"{resource.type} {resource.label}")
        return calls

    def _arn(self, resource) -> str | None:
        try:
            return self.env.arn_of(resource)
        except KeyError:
            return None

    def _builtins(self) -> dict:
        return {"region": self.env.region, "account": self.env.account, "partition": "aws"}

    # -------------------------------------------------------------------------------------------- requests
    def requests(self) -> list[tuple[Request, list[str]]]:
        """Every distinct request, with every origin that makes it."""
        calls, links = self.calls()
        functions = links.functions()
        self.catalog.prefetch({call.action for call in calls})
        found: dict[tuple, tuple[Request, list[str]]] = {}
        expanded: set[tuple] = set()  # (request, parameters) whose extra permissions were derived
        queue = list(calls)
        while queue:
            call = queue.pop(0)
            operation = self.table.operation(call.action)
            if operation and call.resources is None:
                scope = Scope(
                    call.params, {**self._builtins(), "caller": call.principal, "call_action": call.action}, functions
                )
                queue += [self._inherit(derived, call) for derived in derive(operation, scope, call.origin)]
                continue
            for resource in self.catalog.resources(call, self.env.names):
                request = Request(call.principal, call.action, resource, freeze(call.context), call.origin)
                if request.key in found:
                    if call.origin not in found[request.key][1]:
                        found[request.key][1].append(call.origin)
                else:
                    found[request.key] = (request, [call.origin])
                identity = (request.key, json.dumps(call.params, sort_keys=True, default=str))
                if identity not in expanded:  # the same request with other parameters can need other extras
                    expanded.add(identity)
                    queue += self._extras(call, resource, functions)
        return sorted(found.values(), key=lambda item: item[0].key)

    @staticmethod
    def _inherit(derived: Call, call: Call) -> Call:
        derived.params = call.params
        return derived

    def _extras(self, call: Call, resource: str, functions: dict) -> list[Call]:
        prefix = call.action.split(":", 1)[0]
        builtins = {
            **self._builtins(),
            "caller": call.principal,
            "resource": resource,
            "key": self.policies.key_of(resource),
            "service_principal": f"{prefix}.amazonaws.com",
            "source_arn": call.context.get("aws:SourceArn"),
            "source_account": call.context.get("aws:SourceAccount"),
            "call_action": call.action,
        }
        extras = []
        for rule in self.table.rules:
            if not matches_action(rule, call.action):
                continue
            scope = Scope(call.params, builtins, functions)
            if applies(rule, scope, encrypted=builtins["key"] is not None):
                extras += derive(rule, scope, call.origin)
        return extras

    # -------------------------------------------------------------------------------------------- verdicts
    def evaluate(self, only=None) -> list[Result]:
        """Every request's verdict (or those `only(request)` selects)."""
        found = [(r, origins) for r, origins in self.requests() if only is None or only(r)]
        return self.judge([request for request, _ in found], [origins for _, origins in found])

    def judge(self, requests: list[Request], origins: list[list[str]] | None = None) -> list[Result]:
        """The evaluator's verdict on each request (requests the model could not name are not evaluated)."""
        pending, results = [], []
        self.catalog.prefetch({request.action for request in requests})
        for index, request in enumerate(requests):
            result = Result(request, "", origins=origins[index] if origins else [request.origin])
            if any(marker in f"{request.resource} {request.principal} {request.context}" for marker in UNKNOWN_NAMES):
                result.verdict, result.note = UNRESOLVED, "a name in the resource could not be derived"
            elif not self.catalog.known(request.action):
                result.verdict, result.note = UNKNOWN_ACTION, "IAM knows no such action"
            else:
                pending.append(result)
            results.append(result)
        answers = self.evaluator.simulate([self._simulation(result) for result in pending])
        for result, answer in zip(pending, answers):
            result.verdict = answer["verdict"]
            result.allowed_by = [self._statement(g, result.request) for g in answer["grants"]]
            explicit = [d for d in answer.get("denials", []) if d.get("denialType") == "Explicit"]
            result.denied_by = [self._statement(d, result.request) for d in explicit]
            if answer.get("error"):
                result.note = answer["error"]
            elif answer.get("ignored"):
                result.note = "context keys the evaluator does not apply to this action: " + ", ".join(
                    answer["ignored"]
                )
            elif answer.get("multivalued") and result.verdict != ALLOWED:
                keys = ", ".join(answer["multivalued"])
                result.note = f"{keys}: multivalued in IAM, a condition on it needs ForAllValues/ForAnyValue"
            else:
                result.note = self._note(result.request)
        return results

    def _simulation(self, result: Result) -> dict:
        request = result.request
        role = self.policies.roles.get(request.principal)
        policy = self.policies.resource_policy(request.resource)
        account = self._account(request.resource)
        context = {"aws:SecureTransport": "true", **dict(request.context)}
        if request.action.lower().startswith("s3:"):
            context["s3:TlsVersion"] = "1.3"
        return {
            "principal": request.principal,
            "action": request.action,
            "resource": request.resource,
            "account": account if account and self._modelled(request.resource) else self.env.account,
            "context": {k: list(v) if isinstance(v, tuple) else v for k, v in context.items()},
            "identityPolicies": [{"name": p.label, "policy": p.document} for p in (role.identity if role else [])],
            "resourcePolicy": policy.document if policy else None,
        }

    def _account(self, resource: str) -> str | None:
        parts = resource.split(":")
        return parts[4] if len(parts) > 4 and parts[4] else None

    def _modelled(self, resource: str) -> bool:
        return self._account(resource) in (None, self.env.account)

    def _note(self, request: Request) -> str:
        account = self._account(request.resource)
        if account and account != self.env.account:
            return f"resource in account {account}, outside the templates: identity policy only"
        return ""

    def _statement(self, grant: dict, request: Request) -> str:
        if grant["policyType"] == "resource":
            policy = self.policies.resource_policy(request.resource)
            label = policy.label if policy else "resource policy"
        else:
            label = grant.get("policyIdentifier", grant["policyType"])
        sid = grant.get("statementId")
        return f"{label}#{grant.get('statementIndex', '?')}" + (f" ({sid})" if sid else "")
