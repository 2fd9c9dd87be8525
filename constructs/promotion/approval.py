"""Phase 04, promotion step 3: the human gate between staging and prod.

RequestApproval publishes the task token on the alerts topic and waits; the operator answers with
`make approve-release` / `make reject-release` (scripts/release.py). A rejection ends the execution successfully
with prod unchanged (Rejected); no answer within the timeout fails it (ApprovalTimedOut).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from config.names import RELEASE_REJECTED_ERROR, Names
from constructs import Construct
from constructs.workflow_fragments import FailureTail, Fragment, catch_all, error_cause


class ApprovalGate(Fragment):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        alerts_topic: sns.ITopic,
        timeout: Duration,
        failed: FailureTail,
    ) -> None:
        super().__init__(scope, construct_id)
        package_arn = sfn.JsonPath.string_at("$.model_package_arn")
        staging, prod = names.endpoint("staging"), names.endpoint("prod")
        request = tasks.SnsPublish(
            self,
            "RequestApproval",
            topic=alerts_topic,
            subject=f"{names.prefix}: release approval needed",
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            # An object: Step Functions sends it as JSON; the token must be a field of its own (the CLI reads it).
            message=sfn.TaskInput.from_object(
                {
                    "summary": sfn.JsonPath.format(
                        "Package {} passed its smoke test on {} and waits for release to {}.",
                        package_arn,
                        staging,
                        prod,
                    ),
                    "approve": f"make approve-release ENV={names.env} TOKEN=<task_token>",
                    "reject": f"make reject-release ENV={names.env} TOKEN=<task_token> REASON='...'",
                    "task_token": sfn.JsonPath.task_token,
                    "model_package_arn": package_arn,
                    "smoke_test": sfn.JsonPath.object_at("$.smoke_staging"),
                    "package": sfn.JsonPath.object_at("$.package"),  # group, version and evaluation metrics (S3)
                    "execution": sfn.JsonPath.execution_id,
                }
            ),
            task_timeout=sfn.Timeout.duration(timeout),
            result_path="$.approval",
        )
        notify_rejected = tasks.SnsPublish(
            self,
            "NotifyRejected",
            topic=alerts_topic,
            subject=f"{names.prefix}: release rejected",
            message=sfn.TaskInput.from_text(
                sfn.JsonPath.format(
                    f"Release of {{}} to {prod} was rejected: {{}}. Prod is unchanged.",
                    package_arn,
                    sfn.JsonPath.string_at("$.rejection.Cause"),
                )
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        request.add_catch(
            notify_rejected.next(sfn.Succeed(self, "Rejected", comment="a human rejected the release; prod unchanged")),
            errors=[RELEASE_REJECTED_ERROR],
            result_path="$.rejection",
        )
        request.add_catch(
            failed.failure(
                self,
                "ApprovalTimedOut",
                "ApprovalTimedOut",
                sfn.JsonPath.format(
                    f"nobody approved or rejected {{}} within {timeout.to_hours():g} h; prod is unchanged", package_arn
                ),
            ),
            errors=[sfn.Errors.TIMEOUT],
            result_path="$.error",
        )
        request.add_catch(failed.failure(self, "ApprovalFailed", "ApprovalFailed", error_cause()), **catch_all())
        self._start, self._ends = request, (request,)
