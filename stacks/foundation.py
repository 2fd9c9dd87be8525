"""Phase 00: the shared security and operations base every other stack builds on.

The alerts topic is encrypted with the environment key, so an AWS service that publishes to it needs both a topic
policy statement and the key: `Foundation.allow_service_to_publish` adds both, conditioned on this account and the
publishing resources' ARN. The foundation allows this environment's CloudWatch alarms (`alarm:titanic-<env>-*`,
every alarm any phase names after the environment); later phases call it for other services (budgets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from config import EnvironmentConfig
from config.names import PROJECT
from constructs import Construct
from constructs.compliance import skip_checkov
from constructs.retention import removal_policy
from constructs.secure_bucket import SecureBucket


@dataclass(frozen=True)
class Foundation:
    """What later stacks receive from the foundation, as typed references (never names rebuilt by hand)."""

    key: kms.IKey
    access_log_bucket: s3.IBucket
    artifacts_bucket: s3.IBucket
    alerts_topic: sns.ITopic

    def allow_service_to_publish(self, service: str, *source_arn_patterns: str) -> None:
        """Let `service` (e.g. "budgets.amazonaws.com") publish alerts for this account's resources whose ARN matches
        one of `source_arn_patterns` (ArnLike, e.g. "arn:aws:budgets::<account>:*"). Call once per service.

        Adds the topic policy statement and, for a service the key policy does not name yet, the key policy statement
        SNS needs to encrypt the message for it (both with the same conditions: this account, those ARNs)."""
        if not source_arn_patterns:
            raise ValueError(f"{service}: name the ARN pattern(s) of the resources that publish")
        name = re.sub(r"[^A-Za-z0-9]", "", service.removesuffix(".amazonaws.com").title())
        account = Stack.of(self.alerts_topic).account
        conditions = {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": list(source_arn_patterns)},
        }
        self.alerts_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"Allow{name}ToPublish",
                principals=[iam.ServicePrincipal(service)],
                actions=["sns:Publish"],
                resources=[self.alerts_topic.topic_arn],
                conditions=conditions,
            )
        )
        if service not in KEY_PUBLISHERS:
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Allow{name}ToUseTheKeyForAlerts",
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],  # in a key policy "*" means this key
                    conditions=conditions,
                )
            )


# Services the key policy lets use the key for the alerts topic from the start (alarms, EventBridge rules).
KEY_PUBLISHERS = ("cloudwatch.amazonaws.com", "events.amazonaws.com")


class FoundationStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._config, self._names = config, config.names
        key = self._environment_key()
        access_logs = SecureBucket(
            self,
            "AccessLogs",
            encryption_key=None,
            access_log_bucket=None,
            access_log_prefix="",
            noncurrent_version_expiration_days=config.storage.noncurrent_version_expiration_days,
            destroy_on_delete=config.destroy_on_delete,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs", expiration=Duration.days(config.storage.access_log_expiration_days)
                )
            ],
        )
        skip_checkov(
            access_logs.bucket,
            "CKV_AWS_18",
            "This is the server access log destination of the environment's other buckets. Logging its own access "
            "would need yet another bucket, without end, or logging into itself, which AWS advises against (every "
            "delivered log object is an access that writes another log). CloudTrail data events audit it if needed.",
        )
        artifacts = SecureBucket(
            self,
            "Artifacts",
            encryption_key=key,
            access_log_bucket=access_logs.bucket,
            access_log_prefix="artifacts/",
            noncurrent_version_expiration_days=config.storage.noncurrent_version_expiration_days,
            destroy_on_delete=config.destroy_on_delete,
            lifecycle_rules=[self._mlflow_artifact_retention(), self._capture_expiration()],
        )
        topic = sns.Topic(
            self,
            "Alerts",
            topic_name=self._names.alerts_topic,
            display_name=f"{PROJECT} {config.name} alerts",
            master_key=key,
            enforce_ssl=True,
        )
        topic.add_subscription(subscriptions.EmailSubscription(config.alert_email))
        self.outputs = Foundation(
            key=key, access_log_bucket=access_logs.bucket, artifacts_bucket=artifacts.bucket, alerts_topic=topic
        )
        # Every alarm of this environment (guard, workflow, observability, drift alarms) is named titanic-<env>-...
        self.outputs.allow_service_to_publish(
            "cloudwatch.amazonaws.com",
            f"arn:{self.partition}:cloudwatch:{self.region}:{self.account}:alarm:{self._names.prefix}-*",
        )
        # Phase 07: the observability stack's budget notifies the topic (AWS Budgets user guide, "Creating an Amazon SNS
        # topic for budget notifications"). Here, not in that stack: a stack cannot edit another's key policy, and a
        # second AWS::SNS::TopicPolicy would replace this topic's whole policy (SNS keeps one policy per topic).
        self.outputs.allow_service_to_publish(
            "budgets.amazonaws.com", f"arn:{self.partition}:budgets::{self.account}:*"
        )

    def _mlflow_artifact_retention(self) -> s3.LifecycleRule:
        """MLflow's artifact store (mlflow/): overwritten or deleted artifacts go after [mlflow]
        artifact_noncurrent_days; a finished run's current artifacts never expire by age (they are its record)."""
        return s3.LifecycleRule(
            id="expire-noncurrent-mlflow-artifacts",
            prefix=f"{self._names.mlflow_artifacts_prefix}/",
            noncurrent_version_expiration=Duration.days(self._config.mlflow.artifact_noncurrent_days),
            abort_incomplete_multipart_upload_after=Duration.days(1),
            expired_object_delete_marker=True,  # a deleted artifact's marker goes once no version is left
        )

    def _capture_expiration(self) -> s3.LifecycleRule:
        """Endpoint data capture holds passengers' names and tickets: kept only as long as the drift check needs it
        ([monitoring] capture_expiration_days), and its expired versions go a day later, not after the bucket's
        noncurrent-version retention (docs/06-observability-operations.md, "Model monitoring")."""
        return s3.LifecycleRule(
            id="expire-data-capture",
            prefix=f"{self._names.data_capture_prefix}/",
            expiration=Duration.days(self._config.monitoring.capture_expiration_days),
            noncurrent_version_expiration=Duration.days(1),
        )

    def _environment_key(self) -> kms.Key:
        """The one KMS key of the environment: data, artifacts, logs and alerts."""
        destroy = self._config.destroy_on_delete
        key = kms.Key(
            self,
            "Key",
            alias=self._names.key_alias,
            description=self._names.description("encrypts data, artifacts, logs and alerts"),
            enable_key_rotation=True,
            pending_window=Duration.days(7 if destroy else 30),
            removal_policy=removal_policy(destroy),
        )
        # CloudWatch alarms and EventBridge rules publish to the encrypted alerts topic: they need the key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlertPublishersToUseTheKey",
                principals=[iam.ServicePrincipal(service) for service in KEY_PUBLISHERS],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        # CloudWatch Logs encrypts this environment's log groups (Lambda functions of later phases) with the key.
        # The encryption context names the log group, so the grant is limited to log groups named `...titanic-<env>-*`.
        log_groups = (
            f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:{self._names.log_groups_pattern}"
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForThisEnvironment",
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
            )
        )
        return key
