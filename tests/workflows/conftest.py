"""Execute the synthesized state machines under moto, with the real Lambda handlers.

moto 5.2.5 runs Step Functions definitions (execute_state_machine). What it lacks is stubbed here, each stub named:
- Lambda without Docker echoes its payload: `invoke` is patched to run the real handler in process.
- sagemaker:UpdateEndpoint is not implemented: a stub switches the endpoint to the new config, or (when a test asks
  for it) leaves it on the old one, which is what SageMaker does when a guard alarm rolls a blue/green update back.
- The aws-sdk integration name `applicationautoscaling` is not mapped to boto3's `application-autoscaling`.
- aws-sdk:sfn calls: Step Functions takes and returns PascalCase names for every SDK integration (StateMachineArn,
  Executions) while the Step Functions API itself is camelCase; moto passes the names through unchanged, so the stub
  translates them for the `sfn` service only.
- Wait states and task timeouts use real time: waits are skipped (and recorded); a test may shorten one timeout.
- Endpoints have no model behind them in moto: a test queues the bodies the endpoints answer with, in call order
  (moto's own result queue caches one answer per endpoint and body, which a second release would replay).
"""

from __future__ import annotations

import importlib.util
import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.responses import ActionResult
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.models import SageMakerRuntimeBackend
from moto.sns.models import sns_backends
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

from app import create_app
from config import load_environment
from ml.smoke import KNOWN_PASSENGERS
from tests.workflows.asl import ACCOUNT, REGION, Resolver

ROOT = Path(__file__).resolve().parents[2]
ENV = "dev"
CONFIG = load_environment(ENV)
PREFIX = CONFIG.prefix
EVALUATION_URI = f"s3://{PREFIX}-artifacts/pipelines/run-1/evaluation/evaluation.json"
HANDLERS = {f"{PREFIX}-smoke-test": ROOT / "lambdas" / "smoke_test" / "handler.py"}


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> dict[str, dict]:
    """The dev environment's templates, synthesized once for the workflow tests."""
    outdir = tmp_path_factory.mktemp("workflows-cdk.out")
    app, _ = create_app([CONFIG], outdir=str(outdir))
    app.synth()
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }


# ------------------------------------------------------------------------------------------------------ moto stubs
def _load_handler(path: Path):
    spec = importlib.util.spec_from_file_location(f"handler_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _run_real_handler(self, function_name, qualifier, body, headers, response_headers):
    name = function_name.split(":")[6] if function_name.startswith("arn:") else function_name
    handler = _load_handler(HANDLERS[name])
    context = SimpleNamespace(
        function_name=name,
        memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        aws_request_id="test-request",
    )
    return json.dumps(handler(json.loads(body or "{}"), context)).encode()


@dataclass
class EndpointUpdates:
    """Stub of sagemaker:UpdateEndpoint (moto lacks it). `roll_back` makes the next update of an endpoint end on its
    old config, as a guardrail auto-rollback does."""

    calls: list[dict] = field(default_factory=list)
    roll_back: set[str] = field(default_factory=set)

    def handler(self):
        updates = self

        def update_endpoint(response: SageMakerResponse) -> ActionResult:
            name = response._get_param("EndpointName")
            config_name = response._get_param("EndpointConfigName")
            call = {"EndpointName": name, "EndpointConfigName": config_name}
            if response._get_param("DeploymentConfig"):
                call["DeploymentConfig"] = response._get_param("DeploymentConfig")
            updates.calls.append(call)
            backend = sagemaker_backends[ACCOUNT][REGION]
            endpoint = backend.endpoints[name]  # KeyError -> moto answers with an error, as AWS would
            if name in updates.roll_back:
                updates.roll_back.discard(name)
            else:
                backend.describe_endpoint_config(config_name)  # fails for an unknown config, as AWS would
                endpoint.endpoint_config_name = config_name
            return ActionResult({"EndpointArn": endpoint.arn})

        return update_endpoint


def _recase(value, first):
    if isinstance(value, dict):
        return {first(key[0]) + key[1:]: _recase(item, first) for key, item in value.items()}
    if isinstance(value, list):
        return [_recase(item, first) for item in value]
    return value


_original_sdk_task = StateTaskServiceAwsSdk._eval_service_task


def _sdk_task_with_sfn_casing(self, env, resource_runtime_part, normalised_parameters, state_credentials):
    if self._get_boto_service_name() != "stepfunctions":
        return _original_sdk_task(self, env, resource_runtime_part, normalised_parameters, state_credentials)
    parameters = _recase(normalised_parameters, str.lower)
    _original_sdk_task(self, env, resource_runtime_part, parameters, state_credentials)
    env.stack.append(_recase(env.stack.pop(), str.upper))


@dataclass
class Clock:
    waits: list[int] = field(default_factory=list)
    shorten: dict[int, int] = field(default_factory=dict)  # timeout seconds -> seconds actually waited


@pytest.fixture
def aws() -> Iterator[SimpleNamespace]:
    clock = Clock()
    updates = EndpointUpdates()
    answers: list[str] = []
    original_timeout = TimeoutSeconds._eval_seconds

    def answer(self, endpoint_name, unique_repr):
        body = answers.pop(0) if answers else "no answer queued"
        return body, "application/json", "AllTraffic", ""

    def skip_wait(self, env, wait_seconds):
        clock.waits.append(wait_seconds)

    def timeout(self, env):
        seconds = original_timeout(self, env)
        return clock.shorten.get(seconds, seconds)

    overrides = {
        **StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES,
        "applicationautoscaling": "application-autoscaling",
    }
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with (
        mock_aws(config=config),
        mock.patch.object(LambdaSimpleBackend, "invoke", _run_real_handler),
        mock.patch.object(WaitFunction, "_wait_interval", skip_wait),
        mock.patch.object(StateTaskServiceAwsSdk, "_eval_service_task", _sdk_task_with_sfn_casing),
        mock.patch.object(SageMakerRuntimeBackend, "invoke_endpoint", answer),
        mock.patch.object(TimeoutSeconds, "_eval_seconds", timeout),
        mock.patch.object(SageMakerResponse, "update_endpoint", updates.handler(), create=True),
        mock.patch.object(StateTaskService, "_SERVICE_NAME_SFN_TO_BOTO_OVERRIDES", overrides),
    ):
        yield SimpleNamespace(clock=clock, updates=updates, answers=answers)


# ------------------------------------------------------------------------------------------------------ the world
def model_answer(correct: bool = True) -> str:
    """A response body to the smoke request: every known passenger right, or every one wrong."""
    return json.dumps(
        {
            "predictions": [
                {"survived": expected if correct else 1 - expected, "probability": 0.9 if expected == correct else 0.1}
                for _, expected in KNOWN_PASSENGERS
            ]
        }
    )


class World:
    """The AWS resources the workflows use, created in moto, and the state machines from the templates."""

    def __init__(self, templates: dict[str, dict], answers: list[str]) -> None:
        self._answers = answers
        self.sm = boto3.client("sagemaker", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.ssm = boto3.client("ssm", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        trust = json.dumps({"Version": "2012-10-17", "Statement": []})
        role_arn = iam.create_role(RoleName="workflow-test", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        self.topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name=f"{PREFIX}-alerts")["TopicArn"]
        serving = templates[f"{PREFIX}-serving"]
        for resource in serving["Resources"].values():
            if resource["Type"] == "AWS::SSM::Parameter":
                props = resource["Properties"]
                self.ssm.put_parameter(Name=props["Name"], Value=props["Value"], Type="String")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("handler.py", "")
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=f"{PREFIX}-smoke-test",
            Runtime="python3.12",
            Role=role_arn,
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
        )
        self.sm.create_model_package_group(ModelPackageGroupName=f"{PREFIX}-models")
        self.sm.create_model_package_group(ModelPackageGroupName="someone-elses-models")
        self.sm.create_pipeline(
            PipelineName=f"{PREFIX}-training",
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=role_arn,
        )
        self._answered = 0
        resolver = Resolver(templates, {})
        self.machines = {}
        for name in ("promotion", "retraining"):
            definition = resolver.definition(f"{PREFIX}-orchestration", f"{PREFIX}-{name}")
            self.machines[name] = self.sfn.create_state_machine(
                name=f"{PREFIX}-{name}", definition=json.dumps(definition), roleArn=role_arn
            )["stateMachineArn"]

    # --- model registry
    def register_package(
        self, status: str = "Approved", group: str = f"{PREFIX}-models", with_metrics: bool = True
    ) -> str:
        metrics = {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": EVALUATION_URI}}}
        return self.sm.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=status,
            **({"ModelMetrics": metrics} if with_metrics else {}),
            InferenceSpecification={
                "Containers": [{"Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"}],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )["ModelPackageArn"]

    # --- endpoints
    def endpoint_answers(self, *bodies: str) -> None:
        """The bodies the endpoints answer the next smoke requests with, in order."""
        self._answers.extend(bodies)

    def endpoint_config(self, stage: str) -> str | None:
        try:
            return self.sm.describe_endpoint(EndpointName=f"{PREFIX}-{stage}")["EndpointConfigName"]
        except self.sm.exceptions.ClientError:
            return None

    def parameter(self, stage: str, which: str = "current") -> str:
        return self.ssm.get_parameter(Name=f"/{PREFIX}/serving/{stage}/{which}-package")["Parameter"]["Value"]

    # --- executions
    def start(self, machine: str, payload: dict) -> str:
        return self.sfn.start_execution(
            stateMachineArn=self.machines[machine], name=str(uuid.uuid4()), input=json.dumps(payload)
        )["executionArn"]

    def finish(self, execution_arn: str) -> dict:
        deadline = time.monotonic() + 30  # a guard against a hung test, not an assertion about speed
        while time.monotonic() < deadline:
            execution = self.sfn.describe_execution(executionArn=execution_arn)
            if execution["status"] != "RUNNING":
                return execution
            time.sleep(0.05)
        self.sfn.stop_execution(executionArn=execution_arn)
        raise AssertionError(f"{execution_arn} still running; last states {self.visited(execution_arn)[-12:]}")

    def visited(self, execution_arn: str) -> list[str]:
        events = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]

    def messages(self) -> list[dict]:
        """Every message published on the alerts topic: subject and (JSON-decoded when possible) body."""
        sent = sns_backends[ACCOUNT][REGION].topics[self.topic_arn].sent_notifications
        result = []
        for _, message, subject, *_ in sent:
            try:
                body = json.loads(message)
            except ValueError:
                body = message
            result.append({"subject": subject, "body": body})
        return result

    def approval_token(self) -> str:
        """The token of the next approval request not yet answered (waits for it to be published)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            requests = [m for m in self.messages() if m["subject"].endswith("release approval needed")]
            if len(requests) > self._answered:
                self._answered += 1
                return requests[self._answered - 1]["body"]["task_token"]
            time.sleep(0.05)
        raise AssertionError("no approval request was published")


@pytest.fixture
def world(aws, templates, monkeypatch) -> World:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")  # the handlers' INFO lines would flood failure reports
    return World(templates, aws.answers)
