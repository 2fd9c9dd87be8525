"""Phase 04, promotion step 1: admission. Only a well-formed request for an Approved package of this environment's
model group, with evaluation metrics, goes further, and only when no older release of the environment is running;
anything else fails as PackageRefused (or ReleaseOverlap).

    ApplyInputDefaults -> CheckInput -> CheckMode -> CheckReason (required by "force")
    -> OnlyOneRelease (skip duplicates) -> HasReason -> NameRelease -> ReleaseNames -> DescribePackage
    -> IsApprovedInThisGroup -> CheckApprovalAndGroup -> KeepReleaseFacts (end)

Overlap: SageMaker may send several "Approved" events for one change, and each starts an execution. Only the oldest
running execution goes on (constructs/workflow_fragments.py `OldestRunningOnly`): a newer "release" is a duplicate and
ends quietly (SkippedOverlappingRelease); a newer operator request (rollback, force) fails with an alert
(ReleaseOverlap), so it never silently does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from config.names import RELEASE_MODES
from constructs import Construct
from constructs.promotion.release_record import OPTIONAL_ATTRIBUTES
from constructs.promotion.tasks import sagemaker_arn
from constructs.workflow_fragments import (
    ALL_ERRORS,
    FailureTail,
    Fragment,
    OldestRunningOnly,
    sdk_call,
    with_defaults,
)

# The modes the workflow accepts are the release record modes (config.names.RELEASE_MODES): the record keeps the mode.
MODES = ("release", "force", "rollback")
if set(MODES) != set(RELEASE_MODES):
    raise ValueError(f"the accepted modes {MODES} must be the release record modes {RELEASE_MODES}")
EXPECTED_INPUT = (
    '{"model_package_arn": "<arn>", "mode": "release|force|rollback", "actor"?: "<who>", "reason"?: "<why>"}'
    ' ("force" needs a reason)'
)
DEFAULT_INPUT = '{"actor": "unknown"}'  # who started it, when the starter does not say (a console start)
# Fields a usable package description has (a Choice on a missing path would fail the execution in AWS).
PACKAGE_FIELDS = ("ModelPackageGroupName", "ModelApprovalStatus", "ModelPackageVersion", "ModelMetrics")
REFUSED = "PackageRefused"
OVERLAP = "ReleaseOverlap"


class Admission(Fragment):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        release_prefix: str,
        stages: Sequence[str],
        model_package_group_name: str,
        state_machine_arn: str,
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
        only_one = self._only_one_release(state_machine_arn)
        name_release = self._name_release(release_prefix, stages)
        only_one.next(self._optional_attributes()).next(name_release).next(self._describe_package()).next(
            self._package_checks()
        )
        well_formed = sfn.Condition.and_(
            sfn.Condition.is_string("$.model_package_arn"),
            sfn.Condition.is_string("$.actor"),
            sfn.Condition.or_(*[sfn.Condition.string_equals("$.mode", mode) for mode in MODES]),
        )
        # An optional field is type-tested only once it is known to be there (rules are tried in order; AWS fails a
        # type test on a missing path).
        # A forced release skips the champion check: the history must say why.
        check_reason = (
            sfn.Choice(self, "CheckReason")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals("$.mode", "force"),
                    sfn.Condition.not_(sfn.Condition.is_present("$.reason")),
                ),
                invalid_input,
            )
            .when(sfn.Condition.not_(sfn.Condition.is_present("$.reason")), only_one)
            .when(sfn.Condition.is_string("$.reason"), only_one)
            .otherwise(invalid_input)
        )
        check_input = (
            sfn.Choice(self, "CheckInput")
            .when(
                sfn.Condition.and_(sfn.Condition.is_present("$.model_package_arn"), sfn.Condition.is_present("$.mode")),
                sfn.Choice(self, "CheckMode").when(well_formed, check_reason).otherwise(invalid_input),
            )
            .otherwise(invalid_input)
        )
        defaults = with_defaults(self, "ApplyInputDefaults", DEFAULT_INPUT)
        defaults.next(check_input)
        self._start = defaults

    def _only_one_release(self, state_machine_arn: str) -> OldestRunningOnly:
        overlapping = self._failed.failure(
            self,
            "OverlappingRequest",
            OVERLAP,
            sfn.JsonPath.format(
                "another release of this environment is running; this {} of {} was not started (wait for it, or "
                "answer its approval request, then ask again)",
                sfn.JsonPath.string_at("$.mode"),
                sfn.JsonPath.string_at("$.model_package_arn"),
            ),
        )
        duplicate = sfn.Succeed(self, "SkippedOverlappingRelease", comment="an older release is running (duplicate)")
        skipped = (
            sfn.Choice(self, "DuplicateOrRequest")
            .when(sfn.Condition.string_equals("$.mode", "release"), duplicate)
            .otherwise(overlapping)
        )
        return OldestRunningOnly(
            self,
            "OnlyOneRelease",
            state_machine_arn=state_machine_arn,
            state_ids=("ListRunningReleases", "OldestRunningRelease", "OtherReleaseRunning"),
            skipped=skipped,
            failed=self._failed,
            failure_error=OVERLAP,
        )

    def _optional_attributes(self) -> sfn.Choice:
        """The release records' optional attributes, in DynamoDB's shape: {"reason": {"S": ...}} or {}."""
        with_reason = sfn.Pass(
            self,
            "KeepReason",
            parameters={"reason": {"S": sfn.JsonPath.string_at("$.reason")}},
            result_path=OPTIONAL_ATTRIBUTES,
        )
        without = sfn.Pass(self, "NoReason", result=sfn.Result.from_object({}), result_path=OPTIONAL_ATTRIBUTES)
        return (
            sfn.Choice(self, "HasReason")
            .when(sfn.Condition.is_present("$.reason"), with_reason)
            .otherwise(without)
            .afterwards()
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
                "actor.$": "$.actor",
                "record_optional.$": OPTIONAL_ATTRIBUTES,
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
            errors=[ALL_ERRORS],
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
                "actor.$": "$.actor",
                "record_optional.$": OPTIONAL_ATTRIBUTES,
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
