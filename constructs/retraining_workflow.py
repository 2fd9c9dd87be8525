"""Phase 06: the retraining workflow: start the SageMaker pipeline, follow it to the end, alert on failure.

Started by the retraining schedule, by the data stack's DatasetValidated event and by the prod endpoint's drift
alarm (stacks/orchestration.py, constructs/drift_monitor.py). Overlapping runs are prevented: it does nothing when an
older execution of itself or a pipeline execution is already running. Input: {"trigger": "schedule" | "dataset" |
"drift" | "manual", "curated_uri"?: str, "sha256"?: str, "alarm"?: str}; only "dataset" trains on its own
`curated_uri`, every other trigger (a drift alarm included) on the pipeline's default input.

    ApplyDefaults -> OverlapGuard (skip if busy) -> WhichInput -> StartPipeline -> poll until settled -> Succeeded
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct
from constructs.workflow_fragments import (
    ChoiceExit,
    FailureTail,
    Fragment,
    OldestRunningOnly,
    PollUntilSettled,
    catch_all,
    error_cause,
    sdk_call,
    with_defaults,
)

PIPELINE_RUNNING = ("Executing", "Stopping")
DEFAULT_INPUT = '{"trigger": "manual", "curated_uri": "unchanged", "sha256": "unchanged"}'


class OverlapGuard(Fragment):
    """Ends in `skipped` when an older execution of this workflow, or any of the pipeline, runs; else goes on."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        own_arn: str,
        pipeline_name: str,
        pipeline_arn: str,
        failed: FailureTail,
    ) -> None:
        super().__init__(scope, construct_id)
        skipped = sfn.Succeed(self, "SkippedOverlappingRun", comment="another retraining is running")
        # Another execution of this workflow: the oldest running one goes on (constructs/workflow_fragments.py).
        alone = OldestRunningOnly(
            self,
            "OnlyTheOldestRun",
            state_machine_arn=own_arn,
            state_ids=("ListRunningWorkflows", "OldestRunningWorkflow", "OtherWorkflowRunning"),
            skipped=skipped,
            failed=failed,
            failure_error="RetrainingFailed",
        )
        latest_pipeline = sdk_call(
            self,
            "LatestPipelineExecution",
            service="sagemaker",
            action="listPipelineExecutions",
            parameters={
                "PipelineName": pipeline_name,
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 1,
            },
            iam_resources=[pipeline_arn],
            # A list, empty when the pipeline never ran: no path here can be missing (AWS fails on a missing path).
            result_selector={"statuses.$": "$.PipelineExecutionSummaries[*].PipelineExecutionStatus"},
            result_path="$.latest",
        )
        latest_pipeline.add_catch(
            failed.failure(self, "LatestPipelineExecutionFailed", "RetrainingFailed", error_cause()), **catch_all()
        )
        latest_state = sfn.Pass(
            self,
            "IsLatestPipelineRunning",
            parameters={
                state.lower(): sfn.JsonPath.array_contains(sfn.JsonPath.list_at("$.latest.statuses"), state)
                for state in PIPELINE_RUNNING
            },
            result_path="$.latest_running",
        )
        pipeline_idle = sfn.Choice(self, "PipelineAlreadyRunning").when(
            sfn.Condition.or_(
                *[sfn.Condition.boolean_equals(f"$.latest_running.{state.lower()}", True) for state in PIPELINE_RUNNING]
            ),
            skipped,
        )
        alone.next(latest_pipeline).next(latest_state).next(pipeline_idle)
        self._start, self._ends = alone.start_state, (ChoiceExit(pipeline_idle),)


class RetrainingWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine_name: str,
        pipeline_name: str,
        pipeline_arn: str,
        input_data_parameter: str,
        alerts_topic: sns.ITopic,
        poll_interval: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # Its own ARN, built from its fixed name (a reference to the state machine would be circular).
        own_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        alert = tasks.SnsPublish(
            self,
            "AlertFailure",
            topic=alerts_topic,
            subject=f"{state_machine_name}: retraining failed",
            message=sfn.TaskInput.from_text(
                sfn.JsonPath.format(
                    "Retraining ({}) failed: {}. Execution {}.",
                    sfn.JsonPath.string_at("$.trigger"),
                    sfn.JsonPath.string_at("$.failure.cause"),
                    sfn.JsonPath.execution_id,
                )
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        self._failed = FailureTail(self, "Failure", alert=[alert], fail_state_id="RetrainingFailed")
        defaults = with_defaults(self, "ApplyDefaults", DEFAULT_INPUT)
        guard = OverlapGuard(
            self,
            "OverlapGuard",
            own_arn=own_arn,
            pipeline_name=pipeline_name,
            pipeline_arn=pipeline_arn,
            failed=self._failed,
        )
        self.definition = (
            defaults.next(guard)
            .next(self._choose_input(input_data_parameter))
            .next(self._start_pipeline(pipeline_name, pipeline_arn))
            .next(self._follow_pipeline(pipeline_name, poll_interval))
            .next(sfn.Succeed(self, "PipelineSucceeded"))
        )

    def _choose_input(self, input_data_parameter: str) -> sfn.Chain:
        """A new dataset is trained on itself; a schedule (or manual start) trains on the pipeline's default input."""
        train_on_dataset = sfn.Pass(
            self,
            "TrainOnTheNewDataset",
            parameters={"list": [{"Name": input_data_parameter, "Value.$": "$.curated_uri"}]},
            result_path="$.pipeline_parameters",
        )
        train_on_default = sfn.Pass(
            self, "TrainOnTheDefaultInput", parameters={"list": []}, result_path="$.pipeline_parameters"
        )
        return (
            sfn.Choice(self, "WhichInput")
            .when(sfn.Condition.string_equals("$.trigger", "dataset"), train_on_dataset)
            .otherwise(train_on_default)
            .afterwards()
        )

    def _start_pipeline(self, pipeline_name: str, pipeline_arn: str) -> tasks.CallAwsService:
        start = sdk_call(
            self,
            "StartPipeline",
            service="sagemaker",
            action="startPipelineExecution",
            parameters={
                "PipelineName": pipeline_name,
                "ClientRequestToken": sfn.JsonPath.uuid(),
                "PipelineExecutionDescription": sfn.JsonPath.format(
                    "trigger={} dataset={} sha256={}",
                    sfn.JsonPath.string_at("$.trigger"),
                    sfn.JsonPath.string_at("$.curated_uri"),
                    sfn.JsonPath.string_at("$.sha256"),
                ),
                "PipelineParameters.$": "$.pipeline_parameters.list",
            },
            iam_resources=[pipeline_arn],
            result_selector={"arn.$": "$.PipelineExecutionArn"},
            result_path="$.pipeline_execution",
        )
        start.add_catch(
            self._failed.failure(self, "StartPipelineFailed", "RetrainingFailed", error_cause()), **catch_all()
        )
        return start

    def _follow_pipeline(self, pipeline_name: str, poll_interval: Duration) -> PollUntilSettled:
        execution_arns = Stack.of(self).format_arn(
            service="sagemaker", resource="pipeline", resource_name=f"{pipeline_name}/execution/*"
        )
        self.wildcard_reasons = {
            execution_arns: "execution ids are generated by SageMaker when the workflow starts the pipeline; the "
            "wildcard covers only executions of this environment's training pipeline"
        }
        poll = sdk_call(
            self,
            "PollPipeline",
            service="sagemaker",
            action="describePipelineExecution",
            parameters={"PipelineExecutionArn.$": "$.pipeline_execution.arn"},
            iam_resources=[execution_arns],
            result_selector={"status.$": "$.PipelineExecutionStatus"},
            result_path="$.pipeline_status",
        )
        poll.add_catch(
            self._failed.failure(self, "PollPipelineFailed", "RetrainingFailed", error_cause()), **catch_all()
        )
        status = "$.pipeline_status.status"
        return PollUntilSettled(
            self,
            "FollowPipeline",
            wait_state_id="WaitForPipeline",
            interval=poll_interval,
            poll=poll,
            choice_state_id="PipelineOutcome",
            in_progress=sfn.Condition.or_(*[sfn.Condition.string_equals(status, s) for s in PIPELINE_RUNNING]),
            settled=sfn.Condition.string_equals(status, "Succeeded"),
            otherwise=self._failed.failure(
                self,
                "PipelineDidNotSucceed",
                "PipelineFailed",
                sfn.JsonPath.format(
                    "pipeline execution {} ended {}",
                    sfn.JsonPath.string_at("$.pipeline_execution.arn"),
                    sfn.JsonPath.string_at(status),
                ),
            ),
        )
