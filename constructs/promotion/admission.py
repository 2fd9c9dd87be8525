"""Phase 04, promotion step 1: admission. Only a well-formed request for an Approved package of this environment's
model group, with evaluation metrics, goes further; anything else fails as PackageRefused.

    CheckInput -> CheckMode -> NameRelease -> ReleaseNames -> DescribePackage -> IsApprovedInThisGroup
    -> CheckApprovalAndGroup -> KeepReleaseFacts (end)
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct
from constructs.promotion.tasks import sagemaker_arn
from constructs.workflow_fragments import FailureTail, Fragment, sdk_call

EXPECTED_INPUT = '{"model_package_arn": "<arn>", "mode": "release|rollback"}'
MODES = ("release", "rollback")
# Fields a usable package description has (a Choice on a missing path would fail the execution in AWS).
PACKAGE_FIELDS = ("ModelPackageGroupName", "ModelApprovalStatus", "ModelPackageVersion", "ModelMetrics")
REFUSED = "PackageRefused"


class Admission(Fragment):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        release_prefix: str,
        stages: Sequence[str],
        model_package_group_name: str,
        failed: FailureTail,
    ) -> None:
        super().__init__(scope, construct_id)
        self._group, self._failed = model_package_group_name, failed
        invalid_input = failed.failure(
            self,
            "InvalidInput",
            REFUSED,
            sfn.JsonPath.format(
                "expected {}, got {}", EXPECTED_INPUT, sfn.JsonPath.json_to_string(sfn.JsonPath.entire_payload)
            ),
        )
        name_release = self._name_release(release_prefix, stages)
        describe_package = self._describe_package()
        package_checks = self._package_checks()
        self._start = (
            sfn.Choice(self, "CheckInput")
            .when(
                sfn.Condition.and_(sfn.Condition.is_present("$.model_package_arn"), sfn.Condition.is_present("$.mode")),
                sfn.Choice(self, "CheckMode")
                .when(
                    sfn.Condition.and_(
                        sfn.Condition.is_string("$.model_package_arn"),
                        sfn.Condition.or_(*[sfn.Condition.string_equals("$.mode", mode) for mode in MODES]),
                    ),
                    name_release.next(describe_package).next(package_checks),
                )
                .otherwise(invalid_input),
            )
            .otherwise(invalid_input)
        )

    def _name_release(self, release_prefix: str, stages: Sequence[str]) -> sfn.Chain:
        """A release id, and the names of the model and endpoint configs it creates: <prefix>[-<stage>]-<id>
        (the cleanup command finds them by the prefix)."""
        name_release = sfn.Pass(
            self,
            "NameRelease",
            parameters={
                "model_package_arn.$": "$.model_package_arn",
                "mode.$": "$.mode",
                "release_id": sfn.JsonPath.uuid(),
            },
        )
        release_id = sfn.JsonPath.string_at("$.release_id")
        release_names = sfn.Pass(
            self,
            "ReleaseNames",
            parameters={
                "model": sfn.JsonPath.format(f"{release_prefix}-{{}}", release_id),
                **{
                    f"{stage}_config": sfn.JsonPath.format(f"{release_prefix}-{stage}-{{}}", release_id)
                    for stage in stages
                },
            },
            result_path="$.names",
        )
        return name_release.next(release_names)

    def _describe_package(self) -> tasks.CallAwsService:
        packages = sagemaker_arn(self, "model-package", f"{self._group}/*")
        self.wildcard_reasons = {
            packages: "the workflow may describe any version of this environment's model package group (the version "
            "arrives in the event); other groups stay unreadable"
        }
        describe_package = sdk_call(
            self,
            "DescribePackage",
            service="sagemaker",
            action="describeModelPackage",
            parameters={"ModelPackageName.$": "$.model_package_arn"},
            iam_resources=[packages],
            result_path="$.package",
        )
        # A package of another group or account is not even readable (IAM): describing it fails and is refused.
        describe_package.add_catch(
            self._failed.failure(
                self,
                "PackageUnreadable",
                REFUSED,
                sfn.JsonPath.format(
                    f"cannot read model package {{}} (not in group {self._group}?): {{}}",
                    sfn.JsonPath.string_at("$.model_package_arn"),
                    sfn.JsonPath.string_at("$.describe_error.Cause"),
                ),
            ),
            errors=[sfn.Errors.ALL],
            result_path="$.describe_error",
        )
        return describe_package

    def _package_checks(self) -> sfn.Choice:
        """Approved, of this group, with metrics; then only the facts the release needs stay in the state."""
        not_approved = self._failed.failure(
            self,
            "PackageNotApproved",
            REFUSED,
            sfn.JsonPath.format(
                f"model package {{}} is refused: only Approved packages of group {self._group} with evaluation "
                "metrics (ModelMetrics) are deployed",
                sfn.JsonPath.string_at("$.model_package_arn"),
            ),
        )
        facts = sfn.Pass(
            self,
            "KeepReleaseFacts",
            parameters={
                "model_package_arn.$": "$.model_package_arn",
                "mode.$": "$.mode",
                "release_id.$": "$.release_id",
                "names.$": "$.names",
                "package": {
                    "group.$": "$.package.ModelPackageGroupName",
                    "version.$": "$.package.ModelPackageVersion",
                    "approval.$": "$.package.ModelApprovalStatus",
                    "metrics.$": "$.package.ModelMetrics",
                },
            },
        )
        self._ends = (facts,)
        return (
            sfn.Choice(self, "IsApprovedInThisGroup")
            .when(
                sfn.Condition.and_(*[sfn.Condition.is_present(f"$.package.{field}") for field in PACKAGE_FIELDS]),
                sfn.Choice(self, "CheckApprovalAndGroup")
                .when(
                    sfn.Condition.and_(
                        sfn.Condition.string_equals("$.package.ModelPackageGroupName", self._group),
                        sfn.Condition.string_equals("$.package.ModelApprovalStatus", "Approved"),
                    ),
                    facts,
                )
                .otherwise(not_approved),
            )
            .otherwise(not_approved)
        )
