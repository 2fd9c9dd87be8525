"""Phase 00: the shared security and operations base every other stack builds on."""

from __future__ import annotations

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
        self._let_alarms_publish(topic)

        self._let_budgets_publish_alerts(topic, key)
        self.outputs = Foundation(
            key=key, access_log_bucket=access_logs.bucket, artifacts_bucket=artifacts.bucket, alerts_topic=topic
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

    def _let_alarms_publish(self, topic: sns.Topic) -> None:
        """CloudWatch publishes an alarm's actions as cloudwatch.amazonaws.com, under the topic's policy: only this
        account's alarms named for this environment may (the drift monitor added alarms; this covers every alarm)."""
        alarms = f"arn:{self.partition}:cloudwatch:{self.region}:{self.account}:alarm:{self._names.prefix}-*"
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisEnvironmentsAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}, "ArnLike": {"aws:SourceArn": alarms}},
            )
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
                principals=[
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                    iam.ServicePrincipal("events.amazonaws.com"),
                ],
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

    # ------------------------------------------------------------------------------------------ phase 07: budgets
    def _let_budgets_publish_alerts(self, topic: sns.Topic, key: kms.Key) -> None:
        """The budget of the observability stack notifies this encrypted topic as budgets.amazonaws.com: the topic
        policy must let it publish and the key policy let it use the key, both only for this account's budgets
        (AWS Budgets user guide, "Creating an Amazon SNS topic for budget notifications"). Here, not in that stack:
        a stack cannot edit another's key policy, and a second AWS::SNS::TopicPolicy would replace this topic's
        whole policy (SNS keeps one policy per topic)."""
        conditions = {
            "StringEquals": {"aws:SourceAccount": self.account},
            "ArnLike": {"aws:SourceArn": f"arn:{self.partition}:budgets::{self.account}:*"},
        }
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBudgetsToPublish",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=conditions,
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBudgetsToUseTheKeyForAlerts",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions=conditions,
            )
        )
