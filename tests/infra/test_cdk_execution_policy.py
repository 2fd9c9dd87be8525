"""The least-privilege CloudFormation execution policy (terraform/bootstrap/cdk_execution.tf) covers every resource
type the app synthesizes: a new type fails here until the policy (and this table) grants what creating it needs."""

from __future__ import annotations

import json

from tests.test_terraform import statements

# What CloudFormation calls to create each synthesized resource type (AWS service authorization reference).
CREATE = {
    "AWS::Budgets::Budget": ["budgets:ModifyBudget", "budgets:TagResource"],
    "AWS::CloudWatch::Alarm": ["cloudwatch:PutMetricAlarm"],
    "AWS::CloudWatch::CompositeAlarm": ["cloudwatch:PutCompositeAlarm"],
    "AWS::CloudWatch::Dashboard": ["cloudwatch:PutDashboard"],
    "AWS::DynamoDB::Table": ["dynamodb:CreateTable", "dynamodb:UpdateContinuousBackups", "dynamodb:TagResource"],
    "AWS::Events::Rule": ["events:PutRule", "events:PutTargets"],
    "AWS::IAM::Policy": ["iam:PutRolePolicy"],
    "AWS::IAM::Role": ["iam:CreateRole", "iam:PassRole"],
    "AWS::KMS::Alias": ["kms:CreateAlias"],
    "AWS::KMS::Key": ["kms:CreateKey", "kms:PutKeyPolicy", "kms:EnableKeyRotation"],
    "AWS::Lambda::EventInvokeConfig": ["lambda:PutFunctionEventInvokeConfig"],
    "AWS::Lambda::Function": ["lambda:CreateFunction", "lambda:GetLayerVersion", "s3:GetObject"],
    "AWS::Lambda::Permission": ["lambda:AddPermission"],
    "AWS::Logs::LogGroup": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
    "AWS::Logs::ResourcePolicy": ["logs:PutResourcePolicy", "logs:DescribeResourcePolicies"],
    "AWS::Logs::MetricFilter": ["logs:PutMetricFilter"],
    "AWS::S3::Bucket": ["s3:CreateBucket", "s3:PutEncryptionConfiguration", "s3:PutBucket*"],
    "AWS::S3::BucketPolicy": ["s3:PutBucket*"],
    "AWS::SNS::Subscription": ["sns:Subscribe"],
    "AWS::SNS::Topic": ["sns:CreateTopic"],
    "AWS::SNS::TopicPolicy": ["sns:SetTopicAttributes"],
    "AWS::SQS::Queue": ["sqs:CreateQueue"],
    "AWS::SQS::QueuePolicy": ["sqs:SetQueueAttributes"],
    "AWS::SageMaker::MlflowApp": ["sagemaker:CreateMlflowApp", "sagemaker:DescribeMlflowApp", "sagemaker:AddTags"],
    "AWS::SageMaker::MlflowTrackingServer": ["sagemaker:CreateMlflowTrackingServer"],
    "AWS::SageMaker::ModelPackageGroup": ["sagemaker:CreateModelPackageGroup"],
    "AWS::SageMaker::Pipeline": ["sagemaker:CreatePipeline"],
    "AWS::Scheduler::Schedule": ["scheduler:CreateSchedule"],
    "AWS::StepFunctions::StateMachine": ["states:CreateStateMachine", "logs:CreateLogDelivery"],
    "Custom::SeedData": ["lambda:InvokeFunction"],  # CloudFormation invokes the custom resource's Lambda
}
SERVICE = {"StepFunctions": "states"}  # IAM service prefixes that differ from the CloudFormation namespace
# What CloudFormation needs besides, when a resource sets a property: a function's environment encrypted with a
# customer managed key (Lambda developer guide, "Securing Lambda environment variables"), a key added to a log
# group that already exists (CloudWatch Logs AssociateKmsKey).
WHEN_SET = {
    ("AWS::Lambda::Function", "KmsKeyArn"): ["kms:CreateGrant", "kms:Encrypt", "kms:Decrypt"],
    ("AWS::Logs::LogGroup", "KmsKeyId"): ["logs:AssociateKmsKey"],
}


def _synthesized_types(synthesis) -> set[str]:
    types = set()
    for template in synthesis.outdir.glob("*.template.json"):
        types |= {resource["Type"] for resource in json.loads(template.read_text())["Resources"].values()}
    return types


def _granted() -> set[str]:
    return {
        action for s in statements("data.aws_iam_policy_document.cdk_execution").values() for action in s["actions"]
    }


def test_every_synthesized_resource_type_is_covered_by_the_execution_policy(synthesis):
    types = _synthesized_types(synthesis)
    unknown = sorted(types - set(CREATE))
    assert not unknown, f"new resource types {unknown}: grant their create actions in cdk_execution.tf, then list them"
    granted = _granted()
    services = {action.split(":", 1)[0] for action in granted}
    for resource_type in sorted(types):
        if resource_type.startswith("AWS::"):
            namespace = resource_type.split("::")[1]
            assert SERVICE.get(namespace, namespace.lower()) in services, f"{resource_type}: no action of its service"
        missing = [action for action in CREATE[resource_type] if action not in granted]
        assert not missing, f"{resource_type} needs {missing}"


def test_the_policy_grants_no_service_the_app_does_not_deploy(synthesis):
    deployed = {
        SERVICE.get(t.split("::")[1], t.split("::")[1].lower()) for t in _synthesized_types(synthesis) if "::" in t
    }
    # lambda: the published Powertools layer; ssm: the CDK bootstrap version and the layer's public parameter.
    assert {action.split(":", 1)[0] for action in _granted()} <= deployed | {"lambda", "ssm"}


def test_the_policy_grants_what_configured_properties_need(synthesis):
    granted = _granted()
    set_properties = set()
    for template in synthesis.outdir.glob("*.template.json"):
        for resource in json.loads(template.read_text())["Resources"].values():
            set_properties |= {(resource["Type"], name) for name in resource.get("Properties", {})}
    assert set(WHEN_SET) <= set_properties, "a WHEN_SET row no template uses: remove it"
    for (resource_type, name), actions in WHEN_SET.items():
        assert not [a for a in actions if a not in granted], f"{resource_type} with {name} needs {actions}"
