"""One environment of a synthesized cloud assembly, with every CloudFormation reference resolved to a concrete value.

Nothing here imports stacks/ or constructs/: the model reads what deploys (cdk.out). References resolve the way
CloudFormation would, with a fixed fake account and, for names CloudFormation generates, a deterministic stand-in
(`<stack>-<logical id>`), so the same ARN comes out wherever a resource is referenced.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"  # a fixed fake account: the model never needs the real one
STACK_NAME = re.compile(r"^titanic-(?P<env>[a-z0-9]+)-(?P<phase>[a-z0-9-]+)$")
SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    properties: dict  # resolved

    @property
    def label(self) -> str:
        return f"{self.stack}/{self.logical_id}"


@dataclass
class Environment:
    name: str
    region: str
    account: str
    templates: dict[str, dict]  # stack name -> template
    outdir: Path
    _resolving: set = field(default_factory=set, repr=False)

    # ------------------------------------------------------------------------------------------------ resources
    def resources(self, *types: str) -> list[Resource]:
        return [resource for resource in self._all_resources if not types or resource.type in types]

    @cached_property
    def _all_resources(self) -> list[Resource]:
        found = []
        for stack, template in sorted(self.templates.items()):
            for logical_id, resource in sorted(template.get("Resources", {}).items()):
                properties = self.resolve(resource.get("Properties", {}), stack)
                found.append(Resource(stack, logical_id, resource["Type"], properties))
        return found

    def raw(self, stack: str, logical_id: str) -> dict:
        return self.templates[stack]["Resources"][logical_id]

    # ------------------------------------------------------------------------------------------------ resolution
    @cached_property
    def _exports(self) -> dict[str, tuple[str, Any]]:
        return {
            output["Export"]["Name"]: (stack, output["Value"])
            for stack, template in self.templates.items()
            for output in template.get("Outputs", {}).values()
            if "Export" in output
        }

    @property
    def names(self) -> dict[str, str]:
        """What ARN formats need besides parameters."""
        return {"region": self.region, "account": self.account}

    @property
    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::Partition": "aws",
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::URLSuffix": "amazonaws.com",
        }

    def resolve(self, value: Any, stack: str) -> Any:
        """The value with every intrinsic function replaced by what CloudFormation would put there."""
        if isinstance(value, list):
            return [self.resolve(item, stack) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.pseudo.get(argument) or self.attribute(stack, argument, "Ref")
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.attribute(stack, logical_id, attribute)
            if key == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(part, stack)) for part in self.resolve(parts, stack))
            if key == "Fn::ImportValue":
                exporting_stack, exported = self._exports[self.resolve(argument, stack)]
                return self.resolve(exported, exporting_stack)
            if key == "Fn::Sub":
                return self._substitute(argument, stack)
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items, stack)[int(self.resolve(index, stack))]
            if key == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text, stack)).split(separator)
        return {key: self.resolve(item, stack) for key, item in value.items()}

    def _substitute(self, argument: Any, stack: str) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: self.resolve(item, stack) for name, item in variables.items()}

        def replace(match: re.Match) -> str:
            name = match[1]
            if name in values:
                return str(values[name])
            if name in self.pseudo:
                return self.pseudo[name]
            logical_id, _, attribute = name.partition(".")
            return str(self.attribute(stack, logical_id, attribute or "Ref"))

        return SUB_VARIABLE.sub(replace, text)

    def attribute(self, stack: str, logical_id: str, attribute: str) -> Any:
        """Ref or Fn::GetAtt of one resource: its physical name or ARN."""
        key = (stack, logical_id, attribute)
        if key in self._resolving:
            raise ValueError(f"circular reference through {stack}/{logical_id}.{attribute}")
        self._resolving.add(key)
        try:
            resource = self.raw(stack, logical_id)
            properties = resource.get("Properties", {})
            name = self._name(stack, logical_id, resource["Type"], properties)
            return physical_value(resource["Type"], attribute, name, self.region, self.account)
        finally:
            self._resolving.discard(key)

    def _name(self, stack: str, logical_id: str, kind: str, properties: dict) -> str:
        for key in NAME_PROPERTIES.get(kind, ()):
            if key in properties:
                return str(self.resolve(properties[key], stack))
        generated = f"{stack}-{logical_id}"
        return generated.lower() if kind == "AWS::S3::Bucket" else generated

    # ------------------------------------------------------------------------------------------------ lookups
    def find(self, kind: str, **properties: Any) -> Resource | None:
        for resource in self.resources(kind):
            if all(resource.properties.get(key) == value for key, value in properties.items()):
                return resource
        return None

    def arn_of(self, resource: Resource) -> str:
        attribute = ARN_ATTRIBUTE.get(resource.type, "Arn")
        return self.attribute(resource.stack, resource.logical_id, attribute)


# Properties that give a resource its physical name, by type (the first present wins).
NAME_PROPERTIES = {
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::SNS::Topic": ("TopicName",),
    "AWS::SQS::Queue": ("QueueName",),
    "AWS::IAM::Role": ("RoleName",),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName",),
    "AWS::Lambda::Function": ("FunctionName",),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::StepFunctions::StateMachine": ("StateMachineName",),
    "AWS::Events::Rule": ("Name",),
    "AWS::Scheduler::Schedule": ("Name",),
    "AWS::SSM::Parameter": ("Name",),
    "AWS::CloudWatch::Alarm": ("AlarmName",),
    "AWS::CloudWatch::CompositeAlarm": ("AlarmName",),
    "AWS::SageMaker::Pipeline": ("PipelineName",),
    "AWS::SageMaker::ModelPackageGroup": ("ModelPackageGroupName",),
    "AWS::SageMaker::MlflowTrackingServer": ("TrackingServerName",),
    "AWS::KMS::Alias": ("AliasName",),
    "AWS::DynamoDB::Table": ("TableName",),
}
ARN_ATTRIBUTE = {
    "AWS::SNS::Topic": "Ref",
    "AWS::StepFunctions::StateMachine": "Ref",
    "AWS::SageMaker::MlflowTrackingServer": "TrackingServerArn",
    "AWS::SageMaker::Pipeline": "Ref",
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupArn",
}


def physical_value(kind: str, attribute: str, name: str, region: str, account: str) -> str:
    """What Ref / Fn::GetAtt returns for a resource of this type and physical name (CloudFormation's documented
    return values for the types this project uses)."""
    arn = {
        "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
        "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{name}",
        "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{account}:{name}",
        "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
        "AWS::IAM::ManagedPolicy": f"arn:aws:iam::{account}:policy/{name}",
        "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
        "AWS::KMS::Key": f"arn:aws:kms:{region}:{account}:key/{name.rsplit('-', 1)[-1].lower()}",
        "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{name}:*",
        "AWS::StepFunctions::StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{name}",
        "AWS::Events::Rule": f"arn:aws:events:{region}:{account}:rule/{name}",
        "AWS::Scheduler::Schedule": f"arn:aws:scheduler:{region}:{account}:schedule/default/{name}",
        "AWS::SSM::Parameter": f"arn:aws:ssm:{region}:{account}:parameter{name}",
        "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
        "AWS::CloudWatch::CompositeAlarm": f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
        "AWS::SageMaker::Pipeline": f"arn:aws:sagemaker:{region}:{account}:pipeline/{name.lower()}",
        "AWS::SageMaker::ModelPackageGroup": f"arn:aws:sagemaker:{region}:{account}:model-package-group/{name}",
        "AWS::SageMaker::MlflowTrackingServer": f"arn:aws:sagemaker:{region}:{account}:mlflow-tracking-server/{name}",
        # An app's ARN ends in an ID SageMaker generates (its Name is not part of it): `name` is the stand-in.
        "AWS::SageMaker::MlflowApp": f"arn:aws:sagemaker:{region}:{account}:mlflow-app/{name}",
        "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
    }.get(kind)
    if attribute == "Ref":
        if kind in ("AWS::SNS::Topic", "AWS::StepFunctions::StateMachine", "AWS::SageMaker::Pipeline"):
            return arn
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{region}.amazonaws.com/{account}/{name}"
        if kind == "AWS::KMS::Key":
            return name.rsplit("-", 1)[-1].lower()
        return name
    if attribute in ("Arn", "TrackingServerArn", "ModelPackageGroupArn", "QueueArn") and arn:
        return arn
    if attribute in ("Name", "QueueName", "TopicName", "StateMachineName"):
        return name
    if kind == "AWS::SQS::Queue" and attribute == "QueueUrl":
        return f"https://sqs.{region}.amazonaws.com/{account}/{name}"
    raise KeyError(f"no model for {kind}.{attribute}")


def load_environments(outdir: Path) -> list[Environment]:
    """Every environment of the cloud assembly in `outdir`, sorted by name."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    by_environment: dict[str, dict[str, dict]] = {}
    regions: dict[str, str] = {}
    for name, artifact in sorted(manifest.get("artifacts", {}).items()):
        match = STACK_NAME.match(name)
        if artifact.get("type") != "aws:cloudformation:stack" or not match:
            continue
        template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        by_environment.setdefault(match["env"], {})[name] = template
        regions[match["env"]] = artifact["environment"].rsplit("/", 1)[-1]
    return [
        Environment(env, regions[env], ACCOUNT, templates, outdir) for env, templates in sorted(by_environment.items())
    ]
