"""Turn a state machine of a synthesized template into a concrete ASL document moto can execute.

The definition in the template is an Fn::Join of literal text and references (pseudo parameters, resources of the
same stack, exports of other stacks). This resolves each reference to the physical name or ARN the test creates in
moto, so the executed definition is byte for byte what deploys, with only the references filled in.
"""

from __future__ import annotations

import json
from typing import Any

from tests.moto_patches import ACCOUNT, REGION

PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}


class Resolver:
    def __init__(self, templates: dict[str, dict], physical: dict[str, str]) -> None:
        """templates: stack name -> template; physical: logical id or export name -> value the test created."""
        self.templates = templates
        self.physical = physical
        self.exports = {
            output["Export"]["Name"]: (stack, output["Value"])
            for stack, template in templates.items()
            for output in template.get("Outputs", {}).values()
            if "Export" in output
        }

    def resolve(self, value: Any, stack: str) -> Any:
        if isinstance(value, str | int | float | bool) or value is None:
            return value
        if isinstance(value, list):
            return [self.resolve(item, stack) for item in value]
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return PSEUDO.get(argument) or self._resource(stack, argument, "Ref")
            if key == "Fn::GetAtt":
                return self._resource(stack, argument[0], argument[1])
            if key == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(part, stack)) for part in parts)
            if key == "Fn::ImportValue":
                exporting_stack, exported = self.exports[argument]
                return self.resolve(exported, exporting_stack)
        return {key: self.resolve(item, stack) for key, item in value.items()}

    def _resource(self, stack: str, logical_id: str, attribute: str) -> str:
        for key in (f"{logical_id}.{attribute}", logical_id):
            if key in self.physical:
                return self.physical[key]
        resource = self.templates[stack]["Resources"][logical_id]
        properties = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::DynamoDB::Table":
            name = properties["TableName"]
            return name if attribute == "Ref" else f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{properties['TopicName']}"
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{ACCOUNT}:role/{properties.get('RoleName', logical_id)}"
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{properties['FunctionName']}"
        if kind == "AWS::KMS::Key" and attribute == "Arn":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{logical_id.lower()}"
        if kind == "AWS::S3::Bucket":
            return (
                f"{stack}-{logical_id.lower()}" if attribute == "Ref" else f"arn:aws:s3:::{stack}-{logical_id.lower()}"
            )
        raise KeyError(f"no physical value for {stack}/{logical_id}.{attribute} ({kind})")

    def definition(self, stack: str, state_machine_name: str) -> dict:
        """The ASL of the state machine named `state_machine_name` in `stack`, references resolved."""
        for resource in self.templates[stack]["Resources"].values():
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::StepFunctions::StateMachine" and properties.get("StateMachineName") == (
                state_machine_name
            ):
                return json.loads(self.resolve(properties["DefinitionString"], stack))
        raise KeyError(f"{stack} has no state machine {state_machine_name}")
