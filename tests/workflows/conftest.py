"""Execute the synthesized state machines under moto, with the real Lambda handlers.

moto 5.2.5 runs Step Functions definitions (execute_state_machine); what it lacks is patched in tests/moto_patches.py
(`emulated_aws`), each patch named there. This file holds the world the workflows run in: the resources they use,
created in moto, and the state machines from the synthesized templates.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from moto.sns.models import sns_backends
from release_records import ReleaseRecord, history

from config import load_environment
from ml.smoke import KNOWN_PASSENGERS
from tests.moto_patches import ACCOUNT, REGION, emulated_aws
from tests.workflows.asl import Resolver

ROOT = Path(__file__).resolve().parents[2]
ENV = "dev"
CONFIG = load_environment(ENV)
NAMES = CONFIG.names
PREFIX = CONFIG.prefix
# Where the pipeline writes a package's quality report: <artifacts>/<pipeline prefix>/<execution id>/evaluation/.
EVALUATION_KEY = f"{NAMES.pipeline_artifacts_prefix}/{{execution}}/evaluation/evaluation.json"
HANDLERS = {NAMES.smoke_test_function: ROOT / "lambdas" / "smoke_test" / "handler.py"}


@pytest.fixture(scope="session")
def templates(synthesis) -> dict[str, dict]:
    """The dev environment's templates, from the session synthesis (tests/conftest.py)."""
    return {name: stack.template for name, stack in synthesis.stacks.items() if stack.environment == ENV}


@pytest.fixture
def aws() -> Iterator[SimpleNamespace]:
    with emulated_aws(HANDLERS) as emulated:
        yield emulated


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


def ended(sfn, execution_arn: str, seconds: float = 30) -> dict | None:
    """The execution once it is no longer RUNNING, or None after `seconds` (a guard against a hung test, not an
    assertion about speed)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.05)
    return None


class World:
    """The AWS resources the workflows use, created in moto, and the state machines from the templates."""

    def __init__(self, templates: dict[str, dict], answers: list[str]) -> None:
        self._answers = answers
        self.sm = boto3.client("sagemaker", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        trust = json.dumps({"Version": "2012-10-17", "Statement": []})
        role_arn = iam.create_role(RoleName="workflow-test", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        self.topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name=NAMES.alerts_topic)["TopicArn"]
        serving = templates[NAMES.stack("serving")]
        (table,) = [r["Properties"] for r in serving["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
        self.dynamodb.create_table(
            TableName=table["TableName"],
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            BillingMode=table["BillingMode"],
        )
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("handler.py", "")
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=NAMES.smoke_test_function,
            Runtime="python3.12",
            Role=role_arn,
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
        )
        self.sm.create_model_package_group(ModelPackageGroupName=NAMES.model_package_group)
        self.sm.create_model_package_group(ModelPackageGroupName="someone-elses-models")
        self.sm.create_pipeline(
            PipelineName=NAMES.pipeline,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=role_arn,
        )
        self._answered = 0
        self.s3 = boto3.client("s3", region_name=REGION)
        resolver = Resolver(templates, {})
        self.machines = {}
        for name, machine in (
            ("promotion", NAMES.promotion_state_machine),
            ("retraining", NAMES.retraining_state_machine),
        ):
            definition = resolver.definition(NAMES.stack("orchestration"), machine)
            self.machines[name] = self.sfn.create_state_machine(
                name=machine, definition=json.dumps(definition), roleArn=role_arn
            )["stateMachineArn"]
            if name == "promotion":  # the artifacts bucket, as the champion check names it
                self.artifacts_bucket = definition["States"]["ReadCandidateReport"]["Parameters"]["Bucket"]
        self.s3.create_bucket(Bucket=self.artifacts_bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        self.evaluation_uris: list[str] = []

    # --- model registry
    def register_package(
        self,
        status: str = "Approved",
        group: str = NAMES.model_package_group,
        with_metrics: bool = True,
        score: float = 0.83,
        report_key: str | None = None,
    ) -> str:
        """A package as the pipeline registers it: its evaluation.json (quality metric `score`) in its own
        execution's folder of the artifacts bucket (or at `report_key`), named by ModelMetrics."""
        key = report_key or EVALUATION_KEY.format(execution=f"execution-{len(self.evaluation_uris) + 1}")
        report = {"binary_classification_metrics": {CONFIG.ml.quality_metric: {"value": score}}}
        self.s3.put_object(Bucket=self.artifacts_bucket, Key=key, Body=json.dumps(report).encode())
        self.evaluation_uris.append(f"s3://{self.artifacts_bucket}/{key}")
        metrics = {
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": self.evaluation_uris[-1]}}
        }
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
            return self.sm.describe_endpoint(EndpointName=NAMES.endpoint(stage))["EndpointConfigName"]
        except self.sm.exceptions.ClientError:
            return None

    def records(self, stage: str) -> list[ReleaseRecord]:
        """The stage's release records, newest first, read the way the operator commands read them."""
        return history(self.dynamodb, NAMES.releases_table, stage)

    def served(self, stage: str) -> list[str]:
        """The packages the stage served, newest first (its release history as package ARNs)."""
        return [record.model_package_arn for record in self.records(stage)]

    # --- executions
    def start(self, machine: str, payload: dict) -> str:
        return self.sfn.start_execution(
            stateMachineArn=self.machines[machine], name=str(uuid.uuid4()), input=json.dumps(payload)
        )["executionArn"]

    def finish(self, execution_arn: str) -> dict:
        execution = ended(self.sfn, execution_arn)
        if execution:
            return execution
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
