"""Phase 01: the data bucket (raw, curated, quarantine areas), its validation Lambda and the seed dataset."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import CustomResource, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets

from config import EnvironmentConfig
from config.names import DATASET_EVENT_DETAIL_TYPE, DATASET_EVENT_SOURCE
from config.paths import SEED_DATASET
from constructs import Construct, IConstruct
from constructs.grants import PolicyGrants
from constructs.python_function import PowertoolsFunction
from constructs.secure_bucket import SecureBucket
from stacks.foundation import Foundation

RAW_PREFIX = "raw/"
CURATED_PREFIX = "curated/"
QUARANTINE_PREFIX = "quarantine/"
SEED_FILE = SEED_DATASET
SEED_NAME = "titanic.csv"
# The curated copy of the seed data: the SageMaker pipeline's default input.
CURATED_DATASET_KEY = CURATED_PREFIX + SEED_NAME
EVENT_SOURCE = DATASET_EVENT_SOURCE
EVENT_DETAIL_TYPE = DATASET_EVENT_DETAIL_TYPE
VALIDATE_NO_RESERVATION = (
    "A reservation needs the account's Lambda concurrency quota at 100 + the reservation, and new accounts start at "
    "10, so it would fail the first deploy of a new account; an upload burst is absorbed instead by EventBridge's "
    "retries (8 attempts over 6 h) and the alarmed dead-letter queue, so it delays validation and loses nothing."
)
SEED_NO_RESERVATION = (
    "Invoked only by CloudFormation, once per create/update/delete of the Seed custom resource in a deploy of this "
    "stack: it never runs in parallel, so a cap limits nothing, and a reservation would only take capacity from the "
    "account's shared pool (and make the deploy fail on an account still at the starting quota of 10)."
)


@dataclass(frozen=True)
class DataLake:
    """What later stacks receive from the data phase.

    `curated_dataset_uri` is the curated copy of the seed data: the SageMaker pipeline's default input.
    A `DatasetValidated` event (source `event_source`, default event bus) announces every newly curated dataset;
    its detail carries `curated_uri`, `sha256`, `rows`, `source_uri`, `source_version_id`, `curated_version_id`.
    """

    bucket: s3.IBucket
    raw_prefix: str
    curated_prefix: str
    quarantine_prefix: str
    curated_dataset_key: str
    curated_dataset_uri: str
    event_source: str = EVENT_SOURCE
    event_detail_type: str = EVENT_DETAIL_TYPE


class DataStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, foundation: Foundation, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._config = config
        bucket = self._data_bucket(foundation)
        validator = self._validator(bucket, foundation)
        rule = self._validate_every_raw_object(bucket, validator)
        seed_key = RAW_PREFIX + SEED_NAME
        self._seed(bucket, seed_key, foundation.key, depends_on=[rule, validator.function, validator.role])
        self.outputs = DataLake(
            bucket=bucket,
            raw_prefix=RAW_PREFIX,
            curated_prefix=CURATED_PREFIX,
            quarantine_prefix=QUARANTINE_PREFIX,
            curated_dataset_key=CURATED_DATASET_KEY,
            curated_dataset_uri=f"s3://{bucket.bucket_name}/{CURATED_DATASET_KEY}",
        )

    def _data_bucket(self, foundation: Foundation) -> s3.IBucket:
        """One bucket, three prefixes: one key, one access-log stream, one EventBridge switch; IAM scopes by prefix."""
        config, settings = self._config, self._config.data
        data = SecureBucket(
            self,
            "Data",
            encryption_key=foundation.key,
            access_log_bucket=foundation.access_log_bucket,
            access_log_prefix="data/",
            noncurrent_version_expiration_days=config.storage.noncurrent_version_expiration_days,
            destroy_on_delete=config.destroy_on_delete,
            lifecycle_rules=[
                s3.LifecycleRule(id=f"expire-{prefix.rstrip('/')}", prefix=prefix, expiration=Duration.days(days))
                for prefix, days in (
                    (RAW_PREFIX, settings.raw_expiration_days),
                    (CURATED_PREFIX, settings.curated_expiration_days),
                    (QUARANTINE_PREFIX, settings.quarantine_expiration_days),
                )
            ],
        )
        # Native S3 -> EventBridge notifications. The L2 `event_bridge_enabled` option would add CDK's notification
        # custom resource (an untaggable helper Lambda with a managed policy); CloudFormation supports it directly.
        data.bucket.node.default_child.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        return data.bucket

    def _validator(self, bucket: s3.IBucket, foundation: Foundation) -> PowertoolsFunction:
        config, settings = self._config, self._config.data
        validator = PowertoolsFunction(
            self,
            "ValidateData",
            function_name=config.names.validate_data_function,
            source="lambdas/validate_data",
            shared_files=("ml/__init__.py", "ml/schema.py"),
            description="Validates raw passenger CSVs against ml/schema.py: curated + event, or quarantine + alert",
            key=foundation.key,
            log_retention_days=config.log_retention_days,
            destroy_on_delete=config.destroy_on_delete,
            memory_size=settings.validation_memory_mb,
            timeout=Duration.seconds(settings.validation_timeout_seconds),
            no_reservation_reason=VALIDATE_NO_RESERVATION,
            environment={
                "DATA_BUCKET": bucket.bucket_name,
                "RAW_PREFIX": RAW_PREFIX,
                "CURATED_PREFIX": CURATED_PREFIX,
                "QUARANTINE_PREFIX": QUARANTINE_PREFIX,
                "EVENT_SOURCE": EVENT_SOURCE,
                "EVENT_DETAIL_TYPE": EVENT_DETAIL_TYPE,
                "EVENT_BUS_NAME": "default",
                "ALERTS_TOPIC_ARN": foundation.alerts_topic.topic_arn,
                "MAX_OBJECT_BYTES": str(settings.max_object_mb * 1024 * 1024),
            },
        )
        self._grant_validator(validator.role, bucket, foundation)
        return validator

    def _validate_every_raw_object(self, bucket: s3.IBucket, validator: PowertoolsFunction) -> events.Rule:
        return events.Rule(
            self,
            "RawObjectCreated",
            description="Every object created under raw/ in the data bucket goes to the validation Lambda",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": [{"prefix": RAW_PREFIX}]}},
            ),
            targets=[
                targets.LambdaFunction(
                    validator.function,
                    dead_letter_queue=validator.dead_letter_queue,
                    retry_attempts=8,
                    max_event_age=Duration.hours(6),
                )
            ],
        )

    def _grant_validator(self, role: iam.Role, bucket: s3.IBucket, foundation: Foundation) -> None:
        """Read raw, write curated/quarantine, publish on the default bus and the alerts topic (the key: see
        PowertoolsFunction, which grants kms:Decrypt/GenerateDataKey on the environment key)."""
        raw = bucket.arn_for_objects(f"{RAW_PREFIX}*")
        curated, quarantine = (bucket.arn_for_objects(f"{prefix}*") for prefix in (CURATED_PREFIX, QUARANTINE_PREFIX))
        grants = PolicyGrants(role)
        grants.add(
            iam.PolicyStatement(
                sid="ReadRawVersions", actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[raw]
            ),
            because="Reads only under raw/: uploads arrive under unpredictable names; the prefix is the scope.",
        )
        grants.add(
            # Read back and tag its own outputs: how a retry of the same object version finds the work done.
            iam.PolicyStatement(
                sid="WriteCuratedAndQuarantine",
                actions=["s3:PutObject", "s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging"],
                resources=[curated, quarantine],
            ),
            because={
                curated: "Writes (and reads back its own marker tags) only under curated/, keyed like the upload.",
                quarantine: "Writes copies and reports (and reads back its own tags) only under quarantine/.",
            },
        )
        grants.add(
            iam.PolicyStatement(
                sid="ListOwnOutputs",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{CURATED_PREFIX}*", f"{QUARANTINE_PREFIX}*"]}},
            ),
            iam.PolicyStatement(
                sid="PublishDatasetValidated",
                actions=["events:PutEvents"],
                resources=[f"arn:{self.partition}:events:{self.region}:{self.account}:event-bus/default"],
                # events:source is multivalued in IAM (one value per entry of the PutEvents call): every entry must
                # carry the dataset source, and a call without the key matches nothing (Null false).
                conditions={
                    "ForAllValues:StringEquals": {"events:source": [EVENT_SOURCE]},
                    "Null": {"events:source": "false"},
                },
            ),
            iam.PolicyStatement(
                sid="PublishAlerts", actions=["sns:Publish"], resources=[foundation.alerts_topic.topic_arn]
            ),
        )

    def _seed(self, bucket: s3.IBucket, seed_key: str, key: kms.IKey, depends_on: Sequence[IConstruct]) -> None:
        """Copy data/titanic.csv into raw/ on deploy with a small custom resource this stack owns (tagged, no
        wildcard IAM), instead of BucketDeployment's CDK-internal Lambda (see docs/01-data-ingestion.md)."""
        config = self._config
        asset = s3_assets.Asset(self, "SeedAsset", path=str(SEED_FILE))
        seeder = PowertoolsFunction(
            self,
            "SeedData",
            function_name=config.names.seed_data_function,
            source="lambdas/seed_data",
            description="CloudFormation custom resource: copies the bundled Titanic CSV into raw/ on deploy",
            key=key,
            log_retention_days=config.log_retention_days,
            destroy_on_delete=config.destroy_on_delete,
            memory_size=128,
            timeout=Duration.seconds(60),
            retry_attempts=0,
            no_reservation_reason=SEED_NO_RESERVATION,
        )
        for statement in (
            iam.PolicyStatement(
                sid="ReadSeedAsset",
                actions=["s3:GetObject"],
                resources=[asset.bucket.arn_for_objects(asset.s3_object_key)],
            ),
            iam.PolicyStatement(
                sid="WriteSeedObject", actions=["s3:PutObject"], resources=[bucket.arn_for_objects(seed_key)]
            ),
        ):
            seeder.role.add_to_principal_policy(statement)
        seed = CustomResource(
            self,
            "Seed",
            resource_type="Custom::SeedData",
            service_token=seeder.function.function_arn,
            properties={
                "SourceBucket": asset.s3_bucket_name,
                "SourceKey": asset.s3_object_key,  # content-hashed: a changed CSV is copied again on deploy
                "DestinationBucket": bucket.bucket_name,
                "DestinationKey": seed_key,
            },
        )
        # The copy must find the rule and the validator in place, or the seed object would never be validated.
        for dependency in depends_on:
            seed.node.add_dependency(dependency)
