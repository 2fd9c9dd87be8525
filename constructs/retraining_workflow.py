"""The retraining workflow: start the SageMaker pipeline, follow it to the end, alert on failure.

Started by the retraining schedule and by the data stack's DatasetValidated event. Overlapping runs are prevented:
it does nothing when another execution of itself or a pipeline execution is already running.
Input: {"trigger": "schedule" | "dataset" | "manual", "curated_uri"?: str, "sha256"?: str}.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct

PIPELINE_RUNNING = ("Executing", "Stopping")
DEFAULT_INPUT = '{"trigger": "manual", "curated_uri": "unchanged", "sha256": "unchanged"}'


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
        execution_arns = stack.format_arn(
            service="sagemaker", resource="pipeline", resource_name=f"{pipeline_name}/execution/*"
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
        failed = alert.next(
            sfn.Fail(self, "RetrainingFailed", error_path="$.failure.error", cause_path="$.failure.cause")
        )

        def failure(state_id: str, error: str, cause: str) -> sfn.IChainable:
            key = "cause.$" if cause.startswith(("$", "States.")) else "cause"
            return sfn.Pass(self, state_id, parameters={"error": error, key: cause}, result_path="$.failure").next(
                failed
            )

        defaults = sfn.Pass(
            self,
            "ApplyDefaults",
            parameters={"merged.$": f"States.JsonMerge(States.StringToJson('{DEFAULT_INPUT}'), $, false)"},
            output_path="$.merged",
        )
        running_workflows = tasks.CallAwsService(
            self,
            "ListRunningWorkflows",
            service="sfn",
            action="listExecutions",
            iam_action="states:ListExecutions",
            parameters={"StateMachineArn": own_arn, "StatusFilter": "RUNNING"},
            iam_resources=[own_arn],
            result_selector={"count.$": "States.ArrayLength($.Executions)"},
            result_path="$.running_workflows",
        )
        latest_pipeline = tasks.CallAwsService(
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
        latest_state = sfn.Pass(
            self,
            "IsLatestPipelineRunning",
            parameters={
                f"{state.lower()}.$": f"States.ArrayContains($.latest.statuses, '{state}')"
                for state in PIPELINE_RUNNING
            },
            result_path="$.latest_running",
        )
        start = tasks.CallAwsService(
            self,
            "StartPipeline",
            service="sagemaker",
            action="startPipelineExecution",
            parameters={
                "PipelineName": pipeline_name,
                "ClientRequestToken.$": "States.UUID()",
                "PipelineExecutionDescription.$": "States.Format('trigger={} dataset={} sha256={}', "
                "$.trigger, $.curated_uri, $.sha256)",
                "PipelineParameters.$": "$.pipeline_parameters.list",
            },
            iam_resources=[pipeline_arn],
            result_selector={"arn.$": "$.PipelineExecutionArn"},
            result_path="$.pipeline_execution",
        )
        wait = sfn.Wait(self, "WaitForPipeline", time=sfn.WaitTime.duration(poll_interval))
        poll = tasks.CallAwsService(
            self,
            "PollPipeline",
            service="sagemaker",
            action="describePipelineExecution",
            parameters={"PipelineExecutionArn.$": "$.pipeline_execution.arn"},
            iam_resources=[execution_arns],
            result_selector={"status.$": "$.PipelineExecutionStatus"},
            result_path="$.pipeline_status",
        )
        for state in (running_workflows, latest_pipeline, start, poll):
            state.add_catch(
                failure(f"{state.node.id}Failed", "RetrainingFailed", "$.error.Cause"),
                errors=[sfn.Errors.ALL],
                result_path="$.error",
            )

        skipped = sfn.Succeed(self, "SkippedOverlappingRun", comment="another retraining is running")
        pipeline_failed = failure(
            "PipelineDidNotSucceed",
            "PipelineFailed",
            "States.Format('pipeline execution {} ended {}', $.pipeline_execution.arn, $.pipeline_status.status)",
        )
        outcome = (
            sfn.Choice(self, "PipelineOutcome")
            .when(
                sfn.Condition.or_(
                    *[sfn.Condition.string_equals("$.pipeline_status.status", s) for s in PIPELINE_RUNNING]
                ),
                wait,
            )
            .when(
                sfn.Condition.string_equals("$.pipeline_status.status", "Succeeded"),
                sfn.Succeed(self, "PipelineSucceeded"),
            )
            .otherwise(pipeline_failed)
        )
        wait.next(poll).next(outcome)
        start.next(wait)
        # A new dataset is trained on itself; a schedule (or manual start) trains on the pipeline's default input.
        train_on_dataset = sfn.Pass(
            self,
            "TrainOnTheNewDataset",
            parameters={"list": [{"Name": input_data_parameter, "Value.$": "$.curated_uri"}]},
            result_path="$.pipeline_parameters",
        )
        train_on_default = sfn.Pass(
            self, "TrainOnTheDefaultInput", parameters={"list": []}, result_path="$.pipeline_parameters"
        )
        choose_input = (
            sfn.Choice(self, "WhichInput")
            .when(sfn.Condition.string_equals("$.trigger", "dataset"), train_on_dataset)
            .otherwise(train_on_default)
        )
        train_on_dataset.next(start)
        train_on_default.next(start)
        latest_running = (
            sfn.Choice(self, "PipelineAlreadyRunning")
            .when(
                sfn.Condition.or_(
                    *[
                        sfn.Condition.boolean_equals(f"$.latest_running.{state.lower()}", True)
                        for state in PIPELINE_RUNNING
                    ]
                ),
                skipped,
            )
            .otherwise(choose_input)
        )
        alone = (
            sfn.Choice(self, "OtherWorkflowRunning")
            .when(sfn.Condition.number_greater_than("$.running_workflows.count", 1), skipped)
            .otherwise(latest_pipeline.next(latest_state).next(latest_running))
        )
        self.definition = defaults.next(running_workflows).next(alone)
