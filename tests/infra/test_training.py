"""Phase 03: the training stack's resources (pipeline, model package group, execution role, MLflow) per environment."""

from __future__ import annotations

import json
import re
import tarfile

import pytest
from access_model.links import mlflow_rest_calls
from access_model.rules import load_table
from aws_cdk import App, Environment
from aws_cdk.assertions import Match, Template

from app import FEATURE_FLAGS
from config import load_all_environments
from stacks.data import CURATED_DATASET_KEY
from stacks.foundation import FoundationStack
from stacks.training import TRAINING_REQUIREMENTS, TrainingStack, code_bundle_files
from stacks.training_mlflow import MLFLOW_SERVER_LOGGING_ACTIONS

CONFIGS = load_all_environments()


@pytest.fixture(params=CONFIGS, ids=lambda config: config.name)
def training(request, synthesis):
    config = request.param
    return config, Template.from_json(synthesis.stacks[config.names.stack("training")].template)


def _statements(template: Template) -> list[dict]:
    policies = template.find_resources("AWS::IAM::Policy")
    return [s for policy in policies.values() for s in policy["Properties"]["PolicyDocument"]["Statement"]]


def _execution_statements(template: Template) -> dict[str, dict]:
    policies = template.find_resources("AWS::IAM::Policy")
    (policy,) = [p for key, p in policies.items() if key.startswith("ExecutionPolicy")]
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_pipeline_is_named_per_environment_and_runs_as_the_execution_role(training):
    config, template = training
    template.resource_count_is("AWS::SageMaker::Pipeline", 1)
    template.has_resource_properties(
        "AWS::SageMaker::Pipeline",
        {
            "PipelineName": config.names.pipeline,
            "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("^ExecutionRole"), "Arn"]},
            "PipelineDefinition": {"PipelineDefinitionBody": {"Fn::Sub": [Match.any_value(), Match.object_like({})]}},
        },
    )
    # The first execution must not race the role's permissions or the group it registers into.
    (pipeline,) = template.find_resources("AWS::SageMaker::Pipeline").values()
    assert any(dependency.startswith("ExecutionPolicy") for dependency in pipeline["DependsOn"])
    assert "ModelPackageGroup" in pipeline["DependsOn"]


def test_model_package_group_per_environment_without_cross_account_policy_by_default(training):
    config, template = training
    template.resource_count_is("AWS::SageMaker::ModelPackageGroup", 1)
    (group,) = template.find_resources("AWS::SageMaker::ModelPackageGroup").values()
    assert group["Properties"]["ModelPackageGroupName"] == config.names.model_package_group
    assert config.training.prod_account_id is None
    assert "ModelPackageGroupPolicy" not in group["Properties"]


def test_execution_role_is_assumed_by_sagemaker_only_and_has_no_managed_policies(training):
    config, template = training
    roles = template.find_resources("AWS::IAM::Role")
    (role,) = [r for key, r in roles.items() if key.startswith("ExecutionRole")]
    assert role["Properties"]["RoleName"] == config.names.execution_role
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
    ]
    for resource in roles.values():
        assert "ManagedPolicyArns" not in resource["Properties"]


def test_no_wildcard_actions_and_star_resources_only_where_the_api_has_none(training):
    _, template = training
    star_actions = set()
    for statement in _statements(template):
        actions = _as_list(statement["Action"])
        assert all(action != "*" and not action.endswith(":*") for action in actions), actions
        if "*" in _as_list(statement["Resource"]):
            star_actions.update(actions)
    assert star_actions == {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}


def test_metrics_are_limited_to_sagemaker_namespaces(training):
    _, template = training
    statement = _execution_statements(template)["PublishJobMetrics"]
    assert statement["Condition"] == {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}


def test_pass_role_is_only_itself_to_sagemaker(training):
    _, template = training
    pass_role = [s for s in _statements(template) if "iam:PassRole" in _as_list(s["Action"])]
    assert len(pass_role) == 1
    role, attribute = pass_role[0]["Resource"]["Fn::GetAtt"]
    assert role.startswith("ExecutionRole") and attribute == "Arn"
    assert pass_role[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_s3_access_is_scoped_to_the_exact_prefixes(training):
    config, template = training
    statements = _execution_statements(template)
    rendered = json.dumps(statements)
    prefix = CURATED_DATASET_KEY.rsplit("/", 1)[0]
    assert statements["ReadInputData"]["Action"] == "s3:GetObject"
    assert f"/{prefix}/*" in json.dumps(statements["ReadInputData"]["Resource"])
    assert statements["ReadWritePipelineArtifacts"]["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert f"/pipelines/{config.prefix}-training/*" in json.dumps(statements["ReadWritePipelineArtifacts"]["Resource"])
    for sid, expected in (
        ("ListInputData", f"{prefix}/*"),
        ("ListPipelineArtifacts", f"pipelines/{config.prefix}-training/*"),
    ):
        assert statements[sid]["Condition"] == {"StringLike": {"s3:prefix": [expected]}}
    # The code bundle: one object, no wildcard.
    code = json.dumps(statements["ReadCodeBundle"]["Resource"])
    assert "*" not in code.replace("${AWS::AccountId}", "")
    code_prefix = statements["ListCodeBundle"]["Condition"]["StringEquals"]["s3:prefix"]
    assert re.fullmatch(r"[0-9a-f]{64}\.gz", code_prefix)  # listing reveals the one bundle object only
    assert "s3:DeleteObject" not in rendered


def test_registration_is_limited_to_the_environment_group(training):
    config, template = training
    statement = _execution_statements(template)["RegisterIntoItsGroupOnly"]
    assert "sagemaker:CreateModelPackage" in statement["Action"]
    assert f":model-package/{config.prefix}-models/*" in json.dumps(statement["Resource"])


def test_jobs_are_pipeline_jobs_only_and_the_image_is_the_sklearn_repository(training):
    _, template = training
    statements = _execution_statements(template)
    jobs = json.dumps(statements["RunPipelineJobs"]["Resource"])
    assert ":processing-job/pipelines-*" in jobs and ":training-job/pipelines-*" in jobs
    assert ":repository/sagemaker-scikit-learn" in json.dumps(statements["PullScikitLearnImage"]["Resource"])
    assert statements["EncryptJobVolumes"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_mlflow_app_follows_the_config_and_the_job_may_log_to_it_only(training):
    config, template = training
    assert config.mlflow.tracking == "app"  # both environments (docs/03, "Tracking architecture")
    template.resource_count_is("AWS::SageMaker::MlflowTrackingServer", 0)  # nothing billed by the hour
    template.resource_count_is("AWS::SageMaker::MlflowApp", 1)
    template.has_resource_properties(
        "AWS::SageMaker::MlflowApp",
        {
            "Name": config.names.mlflow_app,
            "ModelRegistrationMode": "AutoModelRegistrationDisabled",  # Model Registry stays the registry of record
            "ArtifactStoreUri": {"Fn::Join": ["", ["s3://", Match.any_value(), "/mlflow"]]},
            "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("^MlflowRole"), "Arn"]},
        },
    )
    statements = _execution_statements(template)
    assert statements["LogToMlflow"]["Action"] == "sagemaker:CallMlflowAppApi"
    assert statements["LogToMlflow"]["Resource"] == {"Fn::GetAtt": ["MlflowApp", "Arn"]}
    _assert_mlflow_artifact_writes(statements)


def _assert_mlflow_artifact_writes(statements: dict) -> None:
    """The job uploads its run's artifacts to the artifact store itself, and may do nothing else there."""
    artifacts = statements["WriteMlflowArtifacts"]
    assert artifacts["Action"] == "s3:PutObject"
    assert json.dumps(artifacts["Resource"]).endswith('"/mlflow/*"]]}')
    every_action = [a for statement in statements.values() for a in _as_list(statement["Action"])]
    assert not [a for a in every_action if a.startswith("sagemaker-mlflow:") and a.endswith("*")]


def test_the_mlflow_role_may_touch_only_the_artifact_store(training):
    _, template = training
    roles = template.find_resources("AWS::IAM::Role")
    (role,) = [r for key, r in roles.items() if key.startswith("MlflowRole")]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sagemaker.amazonaws.com"
    }
    policies = template.find_resources("AWS::IAM::Policy")
    (policy,) = [p for key, p in policies.items() if key.startswith("MlflowPolicy")]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {"ArtifactStore", "ListArtifactStore", "LocateArtifactStore", "ArtifactEncryption"}
    assert json.dumps(statements["ArtifactStore"]["Resource"]).endswith('"/mlflow/*"]]}')
    assert statements["ListArtifactStore"]["Condition"] == {"StringLike": {"s3:prefix": ["mlflow/*"]}}


def _variant(tracking: str) -> tuple[dict, dict]:
    """The dev training template with another [mlflow] tracking choice, and its execution policy statements."""
    dev = next(config for config in CONFIGS if config.name == "dev")
    update = {"tracking": tracking, **({"server_size": "Small"} if tracking == "server" else {})}
    config = dev.model_copy(update={"mlflow": dev.mlflow.model_copy(update=update)})
    template = _training_template(config)
    (policy,) = [
        r
        for key, r in template["Resources"].items()
        if key.startswith("ExecutionPolicy") and r["Type"] == "AWS::IAM::Policy"
    ]
    return template, {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def test_a_tracking_server_is_still_built_on_request_with_exactly_the_calls_the_job_makes():
    template, statements = _variant("server")
    kinds = [r["Type"] for r in template["Resources"].values()]
    assert "AWS::SageMaker::MlflowApp" not in kinds
    (server,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::MlflowTrackingServer"]
    assert server["Properties"]["TrackingServerSize"] == "Small"
    assert server["Properties"]["AutomaticModelRegistration"] is False
    assert statements["LogToMlflow"]["Action"] == MLFLOW_SERVER_LOGGING_ACTIONS  # checked against the code below
    assert statements["LogToMlflow"]["Resource"] == {"Fn::GetAtt": ["MlflowTrackingServer", "TrackingServerArn"]}
    _assert_mlflow_artifact_writes(statements)


def test_the_server_grant_is_exactly_the_rest_calls_the_training_code_makes():
    calls = mlflow_rest_calls(load_table().mlflow)
    assert [f"sagemaker-mlflow:{call}" for call in calls] == MLFLOW_SERVER_LOGGING_ACTIONS


def test_without_tracking_nothing_mlflow_is_built_or_granted():
    template, statements = _variant("none")
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert not kinds & {"AWS::SageMaker::MlflowApp", "AWS::SageMaker::MlflowTrackingServer"}
    assert not {"LogToMlflow", "WriteMlflowArtifacts"} & set(statements)
    assert len(_as_list(statements["ReadCodeBundle"]["Resource"])) == 1  # no training bundle with the MLflow client


def test_registry_audit_log_is_encrypted_retained_and_fed_by_this_environments_events_only(training):
    config, template = training
    names = config.names
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": names.registry_audit_log_group,
            "RetentionInDays": config.mlflow.audit_log_retention_days,
            "KmsKeyId": Match.any_value(),
        },
    )
    rules = {r["Properties"]["Name"]: r for r in template.find_resources("AWS::Events::Rule").values()}
    packages, releases = rules[names.registry_audit_rule("packages")], rules[names.registry_audit_rule("releases")]
    assert packages["Properties"]["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": [names.model_package_group]},
    }
    pattern = releases["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert f':stateMachine:{names.promotion_state_machine}"' in json.dumps(pattern["detail"]["stateMachineArn"])
    (policy_id, policy) = next(iter(template.find_resources("AWS::Logs::ResourcePolicy").items()))
    assert policy["Properties"]["PolicyName"] == names.registry_audit_policy
    document = json.dumps(policy["Properties"]["PolicyDocument"])
    for rule in (packages, releases):
        assert rule["Properties"]["Targets"][0].keys() == {"Id", "Arn"}  # no role: the resource policy decides
        assert f':log-group:{names.registry_audit_log_group}"' in json.dumps(rule["Properties"]["Targets"][0]["Arn"])
        assert f":rule/{rule['Properties']['Name']}" in document  # aws:SourceArn names each rule
        assert rule["DependsOn"] == [policy_id]  # the first event finds the policy in place
    assert '\\"Service\\":\\"events.amazonaws.com\\"' in document and "aws:SourceAccount" in document
    assert "logs:DeleteLogStream" not in document and "logs:PutLogEvents" in document


def test_the_synthesized_bundle_holds_the_very_files_of_the_repository(synthesis, training):
    _, template = training
    key = _execution_statements(template)["ListCodeBundle"]["Condition"]["StringEquals"]["s3:prefix"]
    asset = synthesis.outdir / f"asset.{key.removesuffix('.gz')}.tar.gz"  # the file the key was uploaded from
    with tarfile.open(asset, mode="r:gz") as tar:
        shipped = {member.name: tar.extractfile(member).read() for member in tar.getmembers()}
    assert shipped == {name: path.read_bytes() for name, path in code_bundle_files().items()}


def test_with_mlflow_the_training_job_reads_its_own_bundle_that_adds_the_mlflow_client(synthesis, training):
    config, template = training
    objects = _execution_statements(template)["ReadCodeBundle"]["Resource"]
    objects = objects if isinstance(objects, list) else [objects]
    keys = {re.search(r"/([0-9a-f]{64}\.gz)", json.dumps(o))[1] for o in objects}
    assert len(keys) == (1 if config.mlflow.tracking == "none" else 2)
    listed = _execution_statements(template)["ListCodeBundle"]["Condition"]["StringEquals"]["s3:prefix"]
    for key in keys - {listed}:  # the training bundle: the code bundle's files plus the training requirements
        with tarfile.open(synthesis.outdir / f"asset.{key.removesuffix('.gz')}.tar.gz", mode="r:gz") as tar:
            shipped = {member.name: tar.extractfile(member).read() for member in tar.getmembers()}
        expected = {name: path.read_bytes() for name, path in code_bundle_files().items()}
        assert shipped == {**expected, "requirements.txt": TRAINING_REQUIREMENTS.read_bytes()}
        assert b"mlflow-skinny==" in shipped["requirements.txt"]


def test_the_code_bundle_ships_the_ml_package_as_a_folder_and_the_serving_entry():
    files = code_bundle_files()
    assert "serving_entry.py" in files
    assert "ml/__init__.py" in files and "ml/contracts.py" in files
    assert all(name == "serving_entry.py" or name.startswith("ml/") for name in files)
    assert not any(name.startswith("ml/local/") for name in files)


def _training_template(config) -> dict:
    app = App(context=FEATURE_FLAGS)
    env = Environment(account=config.account, region=config.region)
    foundation = FoundationStack(app, "Foundation", config=config, env=env)
    training = TrainingStack(
        app,
        "Training",
        config=config,
        foundation=foundation.outputs,
        input_bucket=foundation.outputs.artifacts_bucket,
        input_data_key=CURATED_DATASET_KEY,
        env=env,
    )
    return Template.from_stack(training).to_json()


def test_cross_account_read_policy_when_prod_lives_in_another_account():
    dev = next(config for config in CONFIGS if config.name == "dev")
    config = dev.model_copy(
        update={
            "account": "111111111111",
            "training": dev.training.model_copy(update={"prod_account_id": "222222222222"}),
        }
    )
    template = _training_template(config)
    (group,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"]
    (statement,) = group["Properties"]["ModelPackageGroupPolicy"]["Statement"]
    assert statement["Principal"] == {
        "AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::222222222222:root"]]}
    }
    assert sorted(statement["Action"]) == [
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
    ]
    # The same account for both environments: no resource policy.
    same = config.model_copy(
        update={"training": config.training.model_copy(update={"prod_account_id": config.account})}
    )
    (group,) = [
        r for r in _training_template(same)["Resources"].values() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"
    ]
    assert "ModelPackageGroupPolicy" not in group["Properties"]
