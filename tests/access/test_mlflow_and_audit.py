"""The access model on MLflow (the training job's calls to an app or a tracking server, and its artifact uploads)
and on the registry audit (EventBridge writing to the audit log group under the CloudWatch Logs resource policy):
what is allowed is allowed by the statement meant for it, and goes when that statement goes."""

from __future__ import annotations

from access_model.assembly import load_environments
from access_model.model import Model
from aws_cdk import App, Environment

from app import FEATURE_FLAGS
from config import load_environment
from stacks.data import CURATED_DATASET_KEY
from stacks.foundation import FoundationStack
from stacks.training import TrainingStack
from stacks.training_mlflow import MLFLOW_SERVER_LOGGING_ACTIONS
from tests.access.conftest import mutated, request

ACCOUNT = "123456789012"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/titanic-prod-sagemaker-execution"
AUDIT_STREAM = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/events/titanic-prod-registry-audit:log-stream:s"


def _mlflow_requests(model: Model) -> dict[tuple[str, str], str]:
    results = model.evaluate(only=lambda r: r.origin.endswith("step TrainModel -> training-job-mlflow"))
    return {(r.request.action, r.request.resource): r.verdict for r in results}


def test_the_prod_training_job_logs_to_its_app_and_writes_its_artifacts(prod):
    found = _mlflow_requests(prod)
    app = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:mlflow-app/titanic-prod-training-MlflowApp"
    artifact = "arn:aws:s3:::titanic-prod-foundation-artifactsbucket88671897/mlflow/1/sample-run/artifacts/sample.json"
    assert found == {("sagemaker:CallMlflowAppApi", app): "Allowed", ("s3:PutObject", artifact): "Allowed"}


def test_without_its_artifact_statement_the_job_could_not_upload_to_mlflow(environments, evaluator):
    def drop(templates):
        policy = templates["titanic-prod-training"]["Resources"]["ExecutionPolicy85A56BE8"]["Properties"]
        statements = policy["PolicyDocument"]["Statement"]
        policy["PolicyDocument"]["Statement"] = [s for s in statements if s.get("Sid") != "WriteMlflowArtifacts"]

    found = _mlflow_requests(Model(mutated(environments["prod"], drop), evaluator))
    assert {action: verdict for (action, _), verdict in found.items()} == {
        "sagemaker:CallMlflowAppApi": "Allowed",
        "s3:PutObject": "ImplicitlyDenied",  # the denial this change fixed
    }


def test_the_app_grant_covers_this_app_only(prod):
    other = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:mlflow-app/another-app"
    (result,) = prod.judge([request(EXECUTION_ROLE, "sagemaker:CallMlflowAppApi", other)])
    assert result.verdict == "ImplicitlyDenied"


def test_with_a_tracking_server_the_job_is_allowed_exactly_the_calls_its_code_makes(tmp_path, evaluator):
    dev = load_environment("dev")
    config = dev.model_copy(update={"mlflow": dev.mlflow.model_copy(update={"tracking": "server"})})
    app = App(outdir=str(tmp_path), context=FEATURE_FLAGS)
    env = Environment(account=config.account, region=config.region)
    foundation = FoundationStack(app, config.names.stack("foundation"), config=config, env=env)
    TrainingStack(
        app,
        config.names.stack("training"),
        config=config,
        foundation=foundation.outputs,
        input_bucket=foundation.outputs.artifacts_bucket,
        input_data_key=CURATED_DATASET_KEY,
        env=env,
    )
    app.synth()
    (environment,) = load_environments(tmp_path)
    found = _mlflow_requests(Model(environment, evaluator))
    server = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:mlflow-tracking-server/titanic-dev-mlflow"
    assert {action for action, resource in found if resource == server} == set(MLFLOW_SERVER_LOGGING_ACTIONS)
    assert set(found.values()) == {"Allowed"} and any(action == "s3:PutObject" for action, _ in found)


def _audit_write(rule: str) -> object:
    return request(
        "events.amazonaws.com",
        "logs:PutLogEvents",
        AUDIT_STREAM,
        **{"aws:SourceArn": f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/{rule}", "aws:SourceAccount": ACCOUNT},
    )


def test_only_the_audit_rules_may_write_the_audit_log(prod):
    ours, other = prod.judge([_audit_write("titanic-prod-audit-releases"), _audit_write("someone-elses-rule")])
    assert ours.verdict == "Allowed"
    assert ours.allowed_by == [
        "titanic-prod-training/RegistryAuditResourcePolicyD02C3716#1 (AuditRulesWriteTheAuditLog)"
    ]
    assert other.verdict == "ImplicitlyDenied"


def test_without_the_logs_resource_policy_eventbridge_could_not_write(environments, evaluator):
    def drop(templates):
        resources = templates["titanic-prod-training"]["Resources"]
        del resources["RegistryAuditResourcePolicyD02C3716"]

    without = Model(mutated(environments["prod"], drop), evaluator)
    (result,) = without.judge([_audit_write("titanic-prod-audit-packages")])
    assert result.verdict == "ImplicitlyDenied"
