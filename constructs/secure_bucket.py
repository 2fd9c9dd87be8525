"""Phase 00: an S3 bucket with the project's non-negotiable defaults."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.retention import removal_policy


class SecureBucket(Construct):
    """Versioned, TLS-only, public access blocked, access-logged, KMS-encrypted (or S3-managed keys when
    `encryption_key` is None, which only the access-log bucket uses: S3 log delivery cannot write to SSE-KMS buckets).

    `destroy_on_delete` lets CloudFormation delete the bucket with its stack (non-production data only). CloudFormation
    deletes only empty buckets; CDK's auto-delete helper is not used because its Lambda and role cannot carry the
    mandatory tags; empty a bucket before deleting its stack (docs/00-foundations.md).

    Log delivery: CDK lets `logging.s3.amazonaws.com` write this bucket's logs into `access_log_bucket`, conditioned on
    this bucket's ARN and account only when both are in one stack (across stacks the condition would be a circular
    reference, so CDK writes none). Across stacks this construct writes the statement itself, conditioned on the
    log bucket's account and on the ARN pattern of this stack's buckets (`arn:...:s3:::<stack name>-*`, the names
    CloudFormation generates start with the stack name).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey | None,
        access_log_bucket: s3.IBucket | None,
        access_log_prefix: str,
        noncurrent_version_expiration_days: int,
        destroy_on_delete: bool,
        lifecycle_rules: list[s3.LifecycleRule] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        log_target = access_log_bucket
        if access_log_bucket is not None and Stack.of(access_log_bucket) is not Stack.of(self):
            log_target = s3.Bucket.from_bucket_name(self, "AccessLogTarget", access_log_bucket.bucket_name)
            self._allow_log_delivery(access_log_bucket, access_log_prefix)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            bucket_key_enabled=encryption_key is not None,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=log_target,
            server_access_logs_prefix=access_log_prefix if access_log_bucket else None,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(noncurrent_version_expiration_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
                *(lifecycle_rules or []),
            ],
            removal_policy=removal_policy(destroy_on_delete),
        )

    def _allow_log_delivery(self, log_bucket: s3.IBucket, prefix: str) -> None:
        """S3 server access logging of this stack's buckets into `log_bucket` (another stack's) under `prefix`."""
        log_stack = Stack.of(log_bucket)
        source_buckets = f"arn:{log_stack.partition}:s3:::{Stack.of(self).stack_name.lower()}-*"
        log_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[log_bucket.arn_for_objects(f"{prefix}*")],
                conditions={
                    "StringEquals": {"aws:SourceAccount": log_stack.account},
                    "ArnLike": {"aws:SourceArn": source_buckets},
                },
            )
        )
