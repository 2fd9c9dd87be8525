"""Phase 00: an S3 bucket with the project's non-negotiable defaults."""

from __future__ import annotations

from aws_cdk import Duration
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
            server_access_logs_bucket=access_log_bucket,
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
