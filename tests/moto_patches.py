"""The one home of every patch of moto internals the suite uses (moto 5.2.x), each named after what moto lacks.

Tests that only need emulated AWS APIs use `moto.mock_aws` directly (tests/lambdas/conftest.py, test_release_cli.py);
tests that execute the synthesized state machines (tests/workflows/) enter `emulated_aws`, which adds:
- Lambda without Docker echoes its payload: `invoke` runs the real handler in process (`handlers` by function name).
- sagemaker:UpdateEndpoint is not implemented: `EndpointUpdates` switches the endpoint to the new config, or (when a
  test asks for it) leaves it on the old one, which is what SageMaker does when a guard alarm rolls a blue/green
  update back. Like SageMaker, it refuses an update that changes the instance type of a variant registered as a
  scalable target, and with RetainAllVariantProperties keeps the variant's current instance counts.
- DescribeEndpoint cannot be made to fail the way IAM or throttling does: `DescribeFailures` makes it answer a given
  error code for given endpoints (AccessDeniedException, ThrottlingException), as a denied or throttled call would.
- The aws-sdk integration name `applicationautoscaling` is not mapped to boto3's `application-autoscaling`.
- aws-sdk:s3:getObject: Step Functions returns the object's Body as text; moto hands over boto3's stream.
- aws-sdk:sfn calls: Step Functions takes and returns PascalCase names for every SDK integration (StateMachineArn,
  Executions) while the Step Functions API itself is camelCase; moto passes the names through unchanged, so the stub
  translates them for the `sfn` service only.
- Wait states and task timeouts use real time: waits are skipped (and recorded in `Clock`); a test may shorten one
  timeout.
- JSONata states (the promotion's champion verdict) need moto's JVM bridge to jsonata-java, absent here:
  `_eval_jsonata` evaluates with jsonata-python, a port of that same library.
- Endpoints have no model behind them: a test queues the bodies the endpoints answer with, in call order (moto's own
  result queue caches one answer per endpoint and body, which a second release would replay).
And three patches for speed, not behaviour: moto lexes and parses a definition with the pure-Python ANTLR runtime at
every CreateStateMachine and every execution (0.3-0.9 s for the promotion's); `ParseTreesOnce` keeps each definition
text's parse tree for the session, every execution still builds a fresh program from it (no execution state shared),
and CreateStateMachine does not check again a text that already parsed and preprocessed without error. moto builds a
boto3 client for every Task state it runs: `TaskClients` builds one per service for the context. And each JSONPath
text (InputPath, ResultPath, ...) is parsed once (`JSON_PATHS`, `RESULT_PATHS`).
And `pipeline_statuses`: moto's pipeline executions succeed at once; it makes them report a given status sequence.
And `eventbridge_json_input`: moto's EventBridge writes a string value into an InputTransformer's JSON template as
bare text (`"alarm": titanic-dev-prod-drift`), where EventBridge writes it as a JSON string (the AWS example
`{"instance": <instance>}` gives `{"instance": "i-0123456789"}`); the patch fills placeholders the way EventBridge does.

For the orphan report (tests/lambdas/test_orphan_report.py): `mlflow_listing` answers ListMlflowTrackingServers and
ListMlflowApps, which moto does not implement; `job_in_progress` keeps a job running (moto's complete at once);
`created_days_ago` ages an endpoint (moto's are created now).

When moto gains one of these, delete its patch here: the executed workflow tests show whether moto's own behaviour
is enough.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import jsonata
from moto import mock_aws
from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import SagemakerClientError
from moto.sagemaker.models import FakePipelineExecution, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.models import SageMakerRuntimeBackend
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.intrinsic.intrinsic_parser import IntrinsicParser
from moto.stepfunctions.parser.asl.parse.intrinsic.preprocessor import Preprocessor as IntrinsicPreprocessor
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from config.names import VARIANT_NAME

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"
EXECUTE_STATE_MACHINES = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


# ------------------------------------------------------------------------------------------------------ Lambda
@dataclass
class EndpointClock:
    """The `time` the Lambda handlers run with: `perf_counter` moves only when an emulated endpoint answers, by
    `latency_ms`, so the smoke test judges the endpoint's latency and not this machine's load (a 2.5 s stall of a
    loaded 2-core machine once failed dev's 2 s budget); everything else is the real `time`."""

    latency_ms: float = 50.0
    now: float = 0.0

    def answered(self) -> None:
        self.now += self.latency_ms / 1000

    def perf_counter(self) -> float:
        return self.now

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


def _load_handler(path: Path, clock: EndpointClock):
    spec = importlib.util.spec_from_file_location(f"handler_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if getattr(module, "time", None) is time:
        module.time = clock
    return module.handler


def _real_handlers(handlers: Mapping[str, Path], clock: EndpointClock):
    def invoke(self, function_name, qualifier, body, headers, response_headers):
        name = function_name.split(":")[6] if function_name.startswith("arn:") else function_name
        context = SimpleNamespace(
            function_name=name,
            memory_limit_in_mb=256,
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
            aws_request_id="test-request",
        )
        return json.dumps(_load_handler(handlers[name], clock)(json.loads(body or "{}"), context)).encode()

    return invoke


# ------------------------------------------------------------------------------------------------------ SageMaker
@dataclass
class EndpointUpdates:
    """Stub of sagemaker:UpdateEndpoint (moto lacks it). `roll_back` makes the next update of an endpoint end on its
    old config, as a guardrail auto-rollback does."""

    calls: list[dict] = field(default_factory=list)
    roll_back: set[str] = field(default_factory=set)

    def handler(self):
        updates = self

        def update_endpoint(response: SageMakerResponse) -> ActionResult:
            call = {
                key: response._get_param(key)
                for key in (
                    "EndpointName",
                    "EndpointConfigName",
                    "DeploymentConfig",
                    "RetainAllVariantProperties",
                    "ExcludeRetainedVariantProperties",
                )
                if response._get_param(key) is not None
            }
            updates.calls.append(call)
            name, config_name = call["EndpointName"], call["EndpointConfigName"]
            backend = sagemaker_backends[ACCOUNT][REGION]
            endpoint = backend.endpoints[name]  # KeyError -> moto answers with an error, as AWS would
            new = backend.endpoint_configs.get(config_name)
            if new is None:
                backend.describe_endpoint_config(config_name)  # fails for an unknown config, as AWS does
            _refuse_instance_type_change_while_scaled(backend, endpoint, new)
            if name in updates.roll_back:
                updates.roll_back.discard(name)
            else:
                _switch(endpoint, new, retain=bool(call.get("RetainAllVariantProperties")))
            return ActionResult({"EndpointArn": endpoint.arn})

        return update_endpoint


def _refuse_instance_type_change_while_scaled(backend, endpoint, new) -> None:
    """SageMaker refuses an update that changes the instance type of a variant that is a scalable target (AWS:
    "Update endpoints that use auto scaling")."""
    old = {v["VariantName"]: v for v in backend.endpoint_configs[endpoint.endpoint_config_name].production_variants}
    scaling = applicationautoscaling_backends[ACCOUNT][REGION]
    for variant in new.production_variants:
        before = old.get(variant["VariantName"])
        resource_id = f"endpoint/{endpoint.endpoint_name}/variant/{variant['VariantName']}"
        scaled = scaling.describe_scalable_targets("sagemaker", [resource_id], None)
        if before and before.get("InstanceType") != variant.get("InstanceType") and scaled:
            raise SagemakerClientError(
                "ValidationException",
                f"The variant {variant['VariantName']} is a scalable target: deregister it before changing its "
                "instance type",
            )


def _switch(endpoint, new, retain: bool) -> None:
    """The endpoint now runs `new`; with `retain`, each variant keeps its current instance counts."""
    counts = {v["VariantName"]: v for v in endpoint.production_variants}
    variants = endpoint._process_production_variants(new.production_variants)
    if retain:
        for variant in variants:
            for key in ("CurrentInstanceCount", "DesiredInstanceCount"):
                if key in counts.get(variant["VariantName"], {}):
                    variant[key] = counts[variant["VariantName"]][key]
    endpoint.endpoint_config_name = new.endpoint_config_name
    endpoint.production_variants = variants


@dataclass
class DescribeFailures:
    """DescribeEndpoint of the endpoints named in `errors` fails with that error code (as IAM denying or throttling
    the call would); the others are described by moto."""

    errors: dict[str, str] = field(default_factory=dict)  # endpoint name -> error code

    def handler(self):
        failures, original = self, SageMakerResponse.describe_endpoint

        def describe_endpoint(response: SageMakerResponse) -> ActionResult:
            name = response._get_param("EndpointName")
            if name in failures.errors:
                code = failures.errors[name]
                raise SagemakerClientError(code, f"{code}: sagemaker:DescribeEndpoint on endpoint {name} failed")
            return original(response)

        return describe_endpoint


@contextmanager
def pipeline_statuses() -> Iterator[list[str]]:
    """Statuses a pipeline execution reports, one per DescribePipelineExecution, the last one repeated (moto's are
    Succeeded at once). Yields the list a test fills."""
    statuses: list[str] = []
    original = FakePipelineExecution.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.__dict__["_statuses"] = statuses

    def status(self):
        queue = self.__dict__.get("_statuses") or []
        return queue.pop(0) if len(queue) > 1 else (queue[0] if queue else "Succeeded")

    with (
        mock.patch.object(FakePipelineExecution, "__init__", init),
        mock.patch.object(
            FakePipelineExecution,
            "pipeline_execution_status",
            property(status, lambda self, value: None),
            create=True,
        ),
    ):
        yield statuses


# ------------------------------------------------------------------------------------------------------ EventBridge
def _fill_json_template(input_template, input_paths_map, event):
    """An InputTransformer as EventBridge applies it: a value inside quotes as text, a bare one as JSON."""
    from jsonpath_ng.ext import parse

    text = input_template
    for name, path in (input_paths_map or {}).items():
        matches = parse(path).find(event)
        value = matches[0].value if matches else None
        text = text.replace(f'"<{name}>"', json.dumps("" if value is None else str(value)))
        text = text.replace(f"<{name}>", json.dumps(value))
    return json.loads(text)


@contextmanager
def eventbridge_json_input() -> Iterator[None]:
    from moto.events.utils import EventTemplateParser

    original = EventTemplateParser.parse

    def parse(input_template, input_paths_map, event):
        if not input_template:
            return original(input_template, input_paths_map, event)
        return _fill_json_template(input_template, input_paths_map, event)

    with mock.patch.object(EventTemplateParser, "parse", staticmethod(parse)):
        yield


# ------------------------------------------------------------------------------------------------------ Step Functions
def _recase(value, first):
    if isinstance(value, dict):
        return {first(key[0]) + key[1:]: _recase(item, first) for key, item in value.items()}
    if isinstance(value, list):
        return [_recase(item, first) for item in value]
    return value


_original_sdk_task = StateTaskServiceAwsSdk._eval_service_task


def _sdk_task_as_step_functions_does(self, env, resource_runtime_part, normalised_parameters, state_credentials):
    service = self._get_boto_service_name()
    if service == "s3" and self._get_boto_service_action() == "get_object":
        _original_sdk_task(self, env, resource_runtime_part, normalised_parameters, state_credentials)
        response = env.stack.pop()
        env.stack.append({**response, "Body": response["Body"].read().decode()})
        return
    if service != "stepfunctions":
        return _original_sdk_task(self, env, resource_runtime_part, normalised_parameters, state_credentials)
    parameters = _recase(normalised_parameters, str.lower)
    _original_sdk_task(self, env, resource_runtime_part, parameters, state_credentials)
    env.stack.append(_recase(env.stack.pop(), str.upper))


def _evaluate_jsonata(expression: str):
    return jsonata.Jsonata(expression).evaluate(None)


# ------------------------------------------------------------------------------------------------------ parse trees
class ParseTreesOnce:
    """moto's `parse` (text -> (component, tree)), parsing each text once. A text that fails still fails in moto's
    own parse, every time; every call gets a new component from the kept tree, as a fresh parse would give."""

    def __init__(self, parse, preprocessor: type) -> None:
        self._parse, self._preprocessor, self._trees = parse, preprocessor, {}

    def parse(self, text: str):
        if text not in self._trees:
            component, self._trees[text] = self._parse(text)
            return component, self._trees[text]
        return self._preprocessor().visit(self._trees[text]), self._trees[text]

    def validator(self, validate):
        """CreateStateMachine's check: a text already parsed and preprocessed without error passes it again."""

        def validate_once(definition: str) -> None:
            if definition not in self._trees:
                validate(definition)

        return validate_once


STATE_MACHINES = ParseTreesOnce(AmazonStateLanguageParser.parse, Preprocessor)
INTRINSICS = ParseTreesOnce(IntrinsicParser.parse, IntrinsicPreprocessor)  # States.Format and the like
# jsonpath_ng builds its PLY parser anew for every parse, and moto parses each state's InputPath, OutputPath and
# ResultPath at every state it runs. A parsed path is a read-only expression tree (find and update_or_create do not
# change it), so each text is parsed once.
JSON_PATHS = functools.cache(json_path.parse)
RESULT_PATHS = functools.cache(result_path.parse)


class TaskClients:
    """moto's `boto_client_for`, building one client per (region, service) for the context instead of one for every
    Task state it runs (a SageMaker client is ~30 ms to build; a release runs dozens of tasks). A client holds no
    call state, so every task still makes its own request through moto; clients are thread-safe, executions run
    on threads. moto 5.2 builds every client with the same fixed keys, whatever `state_credentials` says."""

    _original = staticmethod(boto_client.boto_client_for)

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def client(self, region: str, service: str, state_credentials=None):
        with self._lock:
            if (region, service) not in self._clients:
                self._clients[region, service] = self._original(region, service, state_credentials)
            return self._clients[region, service]

    @staticmethod
    def callers() -> list[object]:
        """Every moto module that imported `boto_client_for` (the task services, Lambda, Map's S3 reader/writer)."""
        return [
            m
            for name, m in sys.modules.items()
            if name.startswith("moto.stepfunctions") and hasattr(m, "boto_client_for")
        ]


@dataclass
class Clock:
    waits: list[int] = field(default_factory=list)
    shorten: dict[int, int] = field(default_factory=dict)  # timeout seconds -> seconds actually waited


@contextmanager
def emulated_aws(handlers: Mapping[str, Path]) -> Iterator[SimpleNamespace]:
    """moto with state machine execution and every patch above. Yields clock, updates, describe_failures, answers
    (the queue of endpoint response bodies) and endpoint_clock."""
    clock = Clock()
    endpoint_clock = EndpointClock()
    updates = EndpointUpdates()
    describe_failures = DescribeFailures()
    answers: list[str] = []
    original_timeout = TimeoutSeconds._eval_seconds

    def answer(self, endpoint_name, unique_repr):
        body = answers.pop(0) if answers else "no answer queued"
        endpoint_clock.answered()
        return body, "application/json", VARIANT_NAME, ""

    def skip_wait(self, env, wait_seconds):
        clock.waits.append(wait_seconds)

    def timeout(self, env):
        seconds = original_timeout(self, env)
        return clock.shorten.get(seconds, seconds)

    overrides = {
        **StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES,
        "applicationautoscaling": "application-autoscaling",
    }
    task_clients = TaskClients()
    with (
        mock_aws(config=EXECUTE_STATE_MACHINES),
        contextlib.ExitStack() as clients,
        mock.patch.object(LambdaSimpleBackend, "invoke", _real_handlers(handlers, endpoint_clock)),
        mock.patch.object(WaitFunction, "_wait_interval", skip_wait),
        mock.patch.object(StateTaskServiceAwsSdk, "_eval_service_task", _sdk_task_as_step_functions_does),
        mock.patch.object(SageMakerRuntimeBackend, "invoke_endpoint", answer),
        mock.patch.object(TimeoutSeconds, "_eval_seconds", timeout),
        mock.patch.object(SageMakerResponse, "update_endpoint", updates.handler(), create=True),
        mock.patch.object(SageMakerResponse, "describe_endpoint", describe_failures.handler()),
        mock.patch.object(StateTaskService, "_SERVICE_NAME_SFN_TO_BOTO_OVERRIDES", overrides),
        mock.patch.object(moto_jsonata, "_eval_jsonata", _evaluate_jsonata),
        mock.patch.object(json_path, "parse", JSON_PATHS),
        mock.patch.object(result_path, "parse", RESULT_PATHS),
        mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(STATE_MACHINES.parse)),
        mock.patch.object(IntrinsicParser, "parse", staticmethod(INTRINSICS.parse)),
        mock.patch.object(
            StepFunctionsParserBackend,
            "_validate_definition",
            staticmethod(STATE_MACHINES.validator(StepFunctionsParserBackend._validate_definition)),
        ),
    ):
        for module in TaskClients.callers():
            clients.enter_context(mock.patch.object(module, "boto_client_for", task_clients.client))
        yield SimpleNamespace(
            clock=clock,
            updates=updates,
            answers=answers,
            describe_failures=describe_failures,
            endpoint_clock=endpoint_clock,
        )


# ------------------------------------------------------------------------------------------------------ orphan report
@contextmanager
def mlflow_listing(servers: tuple[str, ...] = (), apps: tuple[str, ...] = ()) -> Iterator[None]:
    """ListMlflowTrackingServers and ListMlflowApps answer with these names (moto: "not implemented")."""

    def list_servers(response: SageMakerResponse) -> ActionResult:
        return ActionResult({"TrackingServerSummaries": [{"TrackingServerName": name} for name in servers]})

    def list_apps(response: SageMakerResponse) -> ActionResult:
        return ActionResult({"Summaries": [{"Name": name} for name in apps]})

    with (
        mock.patch.object(SageMakerResponse, "list_mlflow_tracking_servers", list_servers, create=True),
        mock.patch.object(SageMakerResponse, "list_mlflow_apps", list_apps, create=True),
    ):
        yield


def job_in_progress(kind: str, name: str) -> None:
    """Mark a moto training or processing job (kind: "training" | "processing") as still running."""
    backend = sagemaker_backends[ACCOUNT][REGION]
    jobs = backend.training_jobs if kind == "training" else backend.processing_jobs
    setattr(jobs[name], f"{kind}_job_status", "InProgress")


def created_days_ago(endpoint: str, days: int) -> None:
    """Move a moto endpoint's CreationTime `days` into the past."""
    record = sagemaker_backends[ACCOUNT][REGION].endpoints[endpoint]
    record.creation_time = record.creation_time - timedelta(days=days)
