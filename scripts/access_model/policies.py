"""Who may do what, as the templates state it: each role's identity policies and each resource's policy.

Identity policies: AWS::IAM::Policy / ManagedPolicy attached to a role, and a role's inline Policies. Resource
policies: KMS key policies, bucket, topic and queue policies, Lambda permissions, each role's trust policy (for
the service that assumes it) and the CloudWatch Logs resource policies (account-wide: they govern every log
group). Every statement keeps the label of the template resource it came from, so the report can name the
statement that allows a request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

from access_model.assembly import Environment, Resource


@dataclass(frozen=True)
class Policy:
    label: str  # stack/logical id of the template resource that holds the document
    document: dict


@dataclass
class Role:
    arn: str
    label: str
    identity: list[Policy] = field(default_factory=list)
    unmodelled: list[str] = field(default_factory=list)  # managed policies whose content is not in the templates
    trust: Policy | None = None


class Policies:
    def __init__(self, env: Environment) -> None:
        self.env = env

    # --------------------------------------------------------------------------------------------- identities
    @cached_property
    def roles(self) -> dict[str, Role]:
        env = self.env
        roles: dict[str, Role] = {}
        by_name: dict[str, Role] = {}
        for resource in env.resources("AWS::IAM::Role"):
            arn = env.arn_of(resource)
            role = Role(
                arn, resource.label, trust=Policy(resource.label, resource.properties["AssumeRolePolicyDocument"])
            )
            for index, inline in enumerate(resource.properties.get("Policies", [])):
                role.identity.append(
                    Policy(f"{resource.label}/{inline.get('PolicyName', index)}", inline["PolicyDocument"])
                )
            role.unmodelled += resource.properties.get("ManagedPolicyArns", [])
            roles[arn] = by_name[arn.rsplit("/", 1)[-1]] = role
        for resource in env.resources("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for name in resource.properties.get("Roles", []):
                by_name[name].identity.append(Policy(resource.label, resource.properties["PolicyDocument"]))
        return roles

    # --------------------------------------------------------------------------------------------- resources
    @cached_property
    def _resource_policies(self) -> dict[str, Policy]:
        env = self.env
        found: dict[str, Policy] = {}
        for resource in env.resources("AWS::KMS::Key"):
            found[env.arn_of(resource)] = Policy(resource.label, resource.properties["KeyPolicy"])
        for resource in env.resources("AWS::S3::BucketPolicy"):
            found[f"arn:aws:s3:::{resource.properties['Bucket']}"] = Policy(
                resource.label, resource.properties["PolicyDocument"]
            )
        for resource in env.resources("AWS::SNS::TopicPolicy"):
            for topic in resource.properties["Topics"]:
                found[topic] = Policy(resource.label, resource.properties["PolicyDocument"])
        queues = {env.attribute(q.stack, q.logical_id, "Ref"): env.arn_of(q) for q in env.resources("AWS::SQS::Queue")}
        for resource in env.resources("AWS::SQS::QueuePolicy"):
            for url in resource.properties["Queues"]:
                found[queues[url]] = Policy(resource.label, resource.properties["PolicyDocument"])
        for arn, policy in self._lambda_permissions().items():
            found[arn] = policy
        for role in self.roles.values():
            found[role.arn] = role.trust
        return found

    def _lambda_permissions(self) -> dict[str, Policy]:
        """AWS::Lambda::Permission resources as the function policy Lambda builds from them."""
        statements: dict[str, list[dict]] = {}
        labels: dict[str, str] = {}
        for resource in self.env.resources("AWS::Lambda::Permission"):
            properties = resource.properties
            function = self._function_arn(properties["FunctionName"])
            principal = properties["Principal"]
            statement = {
                "Sid": resource.logical_id,
                "Effect": "Allow",
                "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
                "Action": properties["Action"],
                "Resource": function,
            }
            conditions: dict[str, dict] = {}
            if "SourceArn" in properties:
                conditions["ArnLike"] = {"aws:SourceArn": properties["SourceArn"]}
            if "SourceAccount" in properties:
                conditions["StringEquals"] = {"aws:SourceAccount": properties["SourceAccount"]}
            if conditions:
                statement["Condition"] = conditions
            statements.setdefault(function, []).append(statement)
            labels.setdefault(function, f"{resource.stack}/function policy")
        return {
            arn: Policy(labels[arn], {"Version": "2012-10-17", "Statement": found}) for arn, found in statements.items()
        }

    def _function_arn(self, name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        return f"arn:aws:lambda:{self.env.region}:{self.env.account}:function:{name_or_arn}"

    def resource_policy(self, resource_arn: str) -> Policy | None:
        """The policy of the resource an ARN names (an S3 object is governed by its bucket's policy)."""
        if resource_arn in self._resource_policies:
            return self._resource_policies[resource_arn]
        if resource_arn.startswith("arn:aws:s3:::"):
            bucket = resource_arn.split("/", 1)[0]
            return self._resource_policies.get(bucket)
        if resource_arn.startswith("arn:aws:lambda:"):
            return self._resource_policies.get(":".join(resource_arn.split(":")[:7]))
        if resource_arn.startswith("arn:aws:logs:"):
            return self._logs_policy
        return None

    @cached_property
    def _logs_policy(self) -> Policy | None:
        """CloudWatch Logs resource policies belong to the account and region, not to one log group: their
        statements together govern every log group (each statement names the groups it covers)."""
        found = self.env.resources("AWS::Logs::ResourcePolicy")
        if not found:
            return None
        statements = []
        for resource in found:
            document = resource.properties["PolicyDocument"]
            statements += (json.loads(document) if isinstance(document, str) else document)["Statement"]
        label = found[0].label if len(found) == 1 else "CloudWatch Logs resource policies"
        return Policy(label, {"Version": "2012-10-17", "Statement": statements})

    # --------------------------------------------------------------------------------------------- encryption
    @cached_property
    def _keys(self) -> dict[str, str]:
        """Resource ARN -> ARN of the customer managed key that encrypts it (topics, queues, buckets, tables, log
        groups)."""
        env = self.env
        keys: dict[str, str] = {}
        for resource in env.resources("AWS::SNS::Topic", "AWS::SQS::Queue"):
            if "KmsMasterKeyId" in resource.properties:
                keys[env.arn_of(resource)] = resource.properties["KmsMasterKeyId"]
        for resource in env.resources("AWS::S3::Bucket"):
            for rule in resource.properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
                default = rule.get("ServerSideEncryptionByDefault", {})
                if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse") and "KMSMasterKeyID" in default:
                    keys[env.arn_of(resource)] = default["KMSMasterKeyID"]
        for resource in env.resources("AWS::DynamoDB::Table"):
            specification = resource.properties.get("SSESpecification", {})
            if specification.get("SSEEnabled") and "KMSMasterKeyId" in specification:
                keys[env.arn_of(resource)] = specification["KMSMasterKeyId"]
        for resource in env.resources("AWS::Logs::LogGroup"):
            if "KmsKeyId" in resource.properties:
                keys[env.arn_of(resource).removesuffix(":*")] = resource.properties["KmsKeyId"]
        return keys

    def key_of(self, resource_arn: str) -> str | None:
        if resource_arn.startswith("arn:aws:s3:::"):
            return self._keys.get(resource_arn.split("/", 1)[0])
        if resource_arn.startswith("arn:aws:logs:"):
            return self._keys.get(resource_arn.split(":log-stream:", 1)[0].removesuffix(":*"))
        return self._keys.get(resource_arn)

    def holder(self, resource_arn: str) -> Resource | None:
        """The template resource an ARN names, if the environment defines it."""
        for resource in self.env.resources():
            try:
                if self.env.arn_of(resource) == resource_arn:
                    return resource
            except KeyError:
                continue
        return None
