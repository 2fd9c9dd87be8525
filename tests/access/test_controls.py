"""Controls: the evaluator denies what no statement grants, and a change to the templates or the code is picked up
without editing the model. Each control pairs with the same request that a statement does grant, so a denial
cannot come from a request the model got wrong."""

from __future__ import annotations

import json

from access_model.model import Model

from tests.access.conftest import mutated, request

ACCOUNT = "123456789012"
ENDPOINT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/titanic-prod-endpoint"
ARTIFACTS = "arn:aws:s3:::titanic-prod-foundation-artifactsbucket88671897"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/key961b73fd"


def _verdicts(model: Model, *requests) -> list[str]:
    return [result.verdict for result in model.judge(list(requests))]


def test_the_endpoint_role_may_write_data_capture_and_nothing_else_in_the_artifacts_bucket(prod):
    allowed, denied = prod.judge(
        [
            request(ENDPOINT_ROLE, "s3:PutObject", f"{ARTIFACTS}/data-capture/prod/sample"),
            request(ENDPOINT_ROLE, "s3:PutObject", f"{ARTIFACTS}/pipelines/titanic-prod-training/model.tar.gz"),
        ]
    )
    assert allowed.verdict == "Allowed"
    assert allowed.allowed_by == ["titanic-prod-serving/EndpointPolicy7F06033B#4 (WriteDataCapture)"]
    assert denied.verdict == "ImplicitlyDenied" and denied.allowed_by == []


def test_a_state_machine_may_not_call_an_action_no_statement_grants(prod):
    retraining = next(r for r in prod.policies.roles if "RetrainingStateMachineRole" in r)
    endpoint = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:endpoint/titanic-prod-prod"
    pipeline = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:pipeline/titanic-prod-training"
    assert _verdicts(
        prod,
        request(retraining, "sagemaker:StartPipelineExecution", pipeline),
        request(retraining, "sagemaker:DeleteEndpoint", endpoint),
    ) == ["Allowed", "ImplicitlyDenied"]


def test_a_service_principal_needs_the_key_policy_and_its_conditions(environments, evaluator):
    alarm = f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:titanic-prod-prod-5xx"
    asks = [
        request(
            "cloudwatch.amazonaws.com",
            "kms:GenerateDataKey",
            KEY,
            **{"aws:SourceAccount": ACCOUNT, "aws:SourceArn": alarm},
        ),
        request("cloudwatch.amazonaws.com", "kms:GenerateDataKey", KEY, **{"aws:SourceAccount": "999999999999"}),
    ]
    assert _verdicts(Model(environments["prod"], evaluator), *asks) == ["Allowed", "ImplicitlyDenied"]

    def drop_publishers(templates):
        policy = templates["titanic-prod-foundation"]["Resources"]["Key961B73FD"]["Properties"]["KeyPolicy"]
        policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "AllowAlertPublishersToUseTheKey"]

    without = Model(mutated(environments["prod"], drop_publishers), evaluator)
    assert _verdicts(without, asks[0]) == ["ImplicitlyDenied"]


def test_an_encryption_context_condition_is_evaluated_not_dropped(prod):
    def encrypt(log_group: str):
        context = {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:{log_group}"}
        return request("logs.eu-west-1.amazonaws.com", "kms:Encrypt", KEY, **context)

    own, other = prod.judge([encrypt("/aws/lambda/titanic-prod-smoke-test"), encrypt("/aws/lambda/someone-else")])
    assert (own.verdict, other.verdict) == ("Allowed", "ImplicitlyDenied")
    assert own.allowed_by == ["titanic-prod-foundation/Key961B73FD#3 (AllowCloudWatchLogsForThisEnvironment)"]
    assert own.note == "" and other.note == ""  # no context key was ignored


def test_an_explicit_deny_wins_and_is_named(prod):
    (insecure,) = prod.judge(
        [
            request(
                ENDPOINT_ROLE,
                "s3:GetObject",
                f"{ARTIFACTS}/pipelines/x/model.tar.gz",
                **{"aws:SecureTransport": "false"},
            )
        ]
    )
    assert insecure.verdict == "ExplicitlyDenied"
    assert insecure.denied_by == ["titanic-prod-foundation/ArtifactsBucketPolicyBC103148#1"]


def test_removing_a_statement_denies_the_request_it_allowed(environments, evaluator):
    def reads_model_data(model: Model):
        results = model.evaluate(only=lambda r: r.principal == ENDPOINT_ROLE and "/model.tar.gz" in r.resource)
        return {result.request.resource: result.verdict for result in results}

    before = reads_model_data(Model(environments["prod"], evaluator))
    assert before and set(before.values()) == {"Allowed"}

    def drop_read(templates):
        policy = templates["titanic-prod-serving"]["Resources"]["EndpointPolicy7F06033B"]["Properties"]
        statements = policy["PolicyDocument"]["Statement"]
        policy["PolicyDocument"]["Statement"] = [s for s in statements if s.get("Sid") != "ReadModelArtifacts"]

    after = reads_model_data(Model(mutated(environments["prod"], drop_read), evaluator))
    assert after.keys() == before.keys() and set(after.values()) == {"ImplicitlyDenied"}


def test_a_new_task_state_is_evaluated_without_changing_the_model(environments, evaluator):
    def add_task(templates):
        machine = templates["titanic-prod-orchestration"]["Resources"]["PromotionStateMachine46864E46"]
        parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
        task = {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sagemaker:deleteModel",
            "Parameters": {"ModelName.$": "$.names.model"},
            "End": True,
        }
        parts[0] = parts[0].replace('"States":{', '"States":{"ForgetModel":' + json.dumps(task) + ",", 1)

    model = Model(mutated(environments["prod"], add_task), evaluator)
    (result,) = model.evaluate(only=lambda r: r.origin.endswith("state ForgetModel"))
    assert result.request.action == "sagemaker:DeleteModel"
    assert (
        result.request.resource
        == f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model/titanic-prod-00000000-0000-4000-8000-000000000000"
    )
    assert result.verdict == "ImplicitlyDenied"


def test_a_new_s3_input_of_a_pipeline_step_is_read_with_the_job_role(environments, evaluator):
    def add_input(templates):
        pipeline = templates["titanic-prod-training"]["Resources"]["Pipeline"]["Properties"]
        body = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
        extra = {"InputName": "extra", "S3Input": {"S3Uri": "s3://somebody-elses-bucket/extra.csv"}}
        body[0] = body[0].replace('"ProcessingInputs":[', '"ProcessingInputs":[' + json.dumps(extra) + ",", 1)

    model = Model(mutated(environments["prod"], add_input), evaluator)
    results = model.evaluate(only=lambda r: "somebody-elses-bucket" in r.resource)
    assert {(r.request.action, r.verdict) for r in results} == {
        ("s3:GetObject", "ImplicitlyDenied"),
        ("s3:ListBucket", "ImplicitlyDenied"),
    }
    assert all(r.request.principal.endswith("role/titanic-prod-sagemaker-execution") for r in results)


def test_a_new_lambda_call_is_evaluated_as_the_functions_role(environments, evaluator):
    recorded = [
        {
            "function": "lambdas/smoke_test",
            "service": "sagemaker",
            "operation": "DeleteEndpoint",
            "params": {"EndpointName": "${event:endpoint_name}"},
        }
    ]
    results = Model(environments["prod"], evaluator, recorded=recorded).evaluate(
        only=lambda r: r.action == "sagemaker:DeleteEndpoint" and "SmokeTestRole" in r.principal
    )
    assert sorted(r.request.resource.rsplit("/", 1)[-1] for r in results) == [
        "titanic-prod-prod",
        "titanic-prod-staging",
    ]
    assert {r.verdict for r in results} == {"ImplicitlyDenied"}
