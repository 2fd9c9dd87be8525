"""The promotion workflow: an approved model package goes to staging, is smoke-tested, waits for a human, then rolls
out to prod behind SageMaker deployment guardrails. Every failure path alerts and leaves the endpoints on their last
good endpoint config.

Input: {"model_package_arn": "<arn>", "mode": "release" | "rollback"}. "rollback" skips staging and the approval
gate: it redeploys a package prod served before (the operator CLI reads it from the release parameters).

Waiting is done with Wait + Describe loops, not `.sync` integrations: they behave the same in AWS and in the executed
tests (tests/workflows/), which run this exact definition from the synthesized template.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from config.settings import EndpointStageSettings, ServingSettings
from constructs import Construct

VARIANT_NAME = "AllTraffic"
NO_PACKAGE = "none"
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack")
REJECTED_ERROR = "ReleaseRejected"  # the error the operator CLI sends to reject a release


@dataclass(frozen=True)
class PromotionTargets:
    """What the workflow deploys to and records in (built from the serving stack's outputs)."""

    prefix: str  # titanic-<env>: names of models and endpoint configs start with it
    tags: dict[str, str]  # mandatory tags, put on every model, endpoint config and endpoint the workflow creates
    endpoint_names: dict[str, str]
    endpoint_role: iam.IRole
    key: kms.IKey
    data_capture_uri: str
    guard_alarm_names: tuple[str, ...]
    current_package_parameters: dict[str, ssm.IStringParameter]
    previous_package_parameter: ssm.IStringParameter
    model_package_group_name: str
    alerts_topic: sns.ITopic
    smoke_function: lambda_.IFunction


def max_rollout_seconds(stage: EndpointStageSettings) -> int:
    """Upper bound SageMaker enforces on one blue/green rollout: every traffic step, the bake time, provisioning."""
    steps = 1 if stage.traffic_routing == "ALL_AT_ONCE" else max(1, 100 // stage.traffic_step_percent)
    return min(28800, max(600, steps * stage.wait_interval_seconds + stage.termination_wait_seconds + 1800))


def deployment_config(stage: EndpointStageSettings, alarm_names: tuple[str, ...]) -> dict:
    """Blue/green update policy with alarm auto-rollback (deployment guardrails) for one endpoint stage."""
    routing: dict = {"Type": stage.traffic_routing, "WaitIntervalInSeconds": stage.wait_interval_seconds}
    step = {"Type": "CAPACITY_PERCENT", "Value": stage.traffic_step_percent}
    if stage.traffic_routing == "CANARY":
        routing["CanarySize"] = step
    elif stage.traffic_routing == "LINEAR":
        routing["LinearStepSize"] = step
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": stage.termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": max_rollout_seconds(stage),
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarm_names]},
    }


class PromotionWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        targets: PromotionTargets,
        serving: ServingSettings,
        approval_timeout: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self._t = targets
        self._serving = serving
        stack = Stack.of(self)
        self._arn = lambda resource, name: stack.format_arn(service="sagemaker", resource=resource, resource_name=name)
        self._sdk_tags = [{"Key": key, "Value": value} for key, value in sorted(targets.tags.items())]

        # --- shared failure tail: every failure sets $.failure {error, cause}, alerts, and fails the execution
        publish_failure = tasks.SnsPublish(
            self,
            "PublishFailure",
            topic=targets.alerts_topic,
            subject=f"{targets.prefix}: model promotion stopped",
            message=sfn.TaskInput.from_text(sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.alert"))),
            result_path=sfn.JsonPath.DISCARD,
        )
        build_alert = sfn.Pass(
            self,
            "DescribeFailure",
            parameters={
                "outcome": "failed",
                "error.$": "$.failure.error",
                "cause.$": "$.failure.cause",
                "input.$": "$$.Execution.Input",
                "execution.$": "$$.Execution.Id",
            },
            result_path="$.alert",
        )
        self._failed = build_alert.next(publish_failure).next(
            sfn.Fail(self, "PromotionFailed", error_path="$.failure.error", cause_path="$.failure.cause")
        )

        # --- input and package validation
        invalid_input = self._failure(
            "InvalidInput",
            "PackageRefused",
            "States.Format('expected {}, got {}', "
            '\'{"model_package_arn": "<arn>", "mode": "release|rollback"}\', States.JsonToString($))',
        )
        name_release = sfn.Pass(
            self,
            "NameRelease",
            parameters={
                "model_package_arn.$": "$.model_package_arn",
                "mode.$": "$.mode",
                "release_id.$": "States.UUID()",
            },
        )
        release_names = sfn.Pass(
            self,
            "ReleaseNames",
            parameters={
                "model.$": f"States.Format('{targets.prefix}-{{}}', $.release_id)",
                **{
                    f"{stage}_config.$": f"States.Format('{targets.prefix}-{stage}-{{}}', $.release_id)"
                    for stage in targets.endpoint_names
                },
            },
            result_path="$.names",
        )
        describe_package = tasks.CallAwsService(
            self,
            "DescribePackage",
            service="sagemaker",
            action="describeModelPackage",
            parameters={"ModelPackageName.$": "$.model_package_arn"},
            iam_resources=[self._arn("model-package", f"{targets.model_package_group_name}/*")],
            result_path="$.package",
        )
        # A package of another group or account is not even readable (IAM): describing it fails and is refused.
        describe_package.add_catch(
            self._failure(
                "PackageUnreadable",
                "PackageRefused",
                "States.Format('cannot read model package {} (not in group "
                + targets.model_package_group_name
                + "?): {}', $.model_package_arn, $.describe_error.Cause)",
            ),
            errors=[sfn.Errors.ALL],
            result_path="$.describe_error",
        )
        not_approved = self._failure(
            "PackageNotApproved",
            "PackageRefused",
            "States.Format('model package {} is refused: only Approved packages of group "
            + targets.model_package_group_name
            + " with evaluation metrics (ModelMetrics) are deployed', $.model_package_arn)",
        )
        # Only the facts the release needs stay in the state (the full description is large).
        keep_facts = sfn.Pass(
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
        create_model = tasks.CallAwsService(
            self,
            "CreateModel",
            service="sagemaker",
            action="createModel",
            parameters={
                "ModelName.$": "$.names.model",
                "ExecutionRoleArn": targets.endpoint_role.role_arn,
                "PrimaryContainer": {"ModelPackageName.$": "$.model_package_arn"},
                "Tags": self._sdk_tags,
            },
            iam_resources=[self._arn("model", f"{targets.prefix}-*")],
            additional_iam_statements=[
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[targets.endpoint_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    actions=["sagemaker:AddTags"], resources=[self._arn("model", f"{targets.prefix}-*")]
                ),
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        create_model.add_catch(self._failure("ModelNotCreated", "ModelNotCreated", "$.error.Cause"), **_catch_all())

        # --- prod tail: record the release, scale, notify
        released = self._record_prod_release()
        prod = self._deploy_stage("prod", serving.prod, guarded=True, on_success=released)

        # --- staging, then the human gate
        record_staging = tasks.CallAwsService(
            self,
            "RecordStagingPackage",
            service="ssm",
            action="putParameter",
            parameters={
                "Name": targets.current_package_parameters["staging"].parameter_name,
                "Value.$": "$.model_package_arn",
                "Overwrite": True,
            },
            iam_resources=[targets.current_package_parameters["staging"].parameter_arn],
            result_path=sfn.JsonPath.DISCARD,
        )
        record_staging.add_catch(self._failure("StagingNotRecorded", "RecordFailed", "$.error.Cause"), **_catch_all())
        approval = self._approval_gate(approval_timeout, on_approved=prod)
        staging = self._deploy_stage(
            "staging", serving.staging, guarded=False, on_success=record_staging.next(approval)
        )

        route = (
            sfn.Choice(self, "RouteByMode")
            .when(sfn.Condition.string_equals("$.mode", "rollback"), prod)
            .otherwise(staging)
        )
        package_checks = (
            sfn.Choice(self, "IsApprovedInThisGroup")
            .when(
                sfn.Condition.and_(
                    *[
                        sfn.Condition.is_present(f"$.package.{field}")
                        for field in (
                            "ModelPackageGroupName",
                            "ModelApprovalStatus",
                            "ModelPackageVersion",
                            "ModelMetrics",
                        )
                    ]
                ),
                sfn.Choice(self, "CheckApprovalAndGroup")
                .when(
                    sfn.Condition.and_(
                        sfn.Condition.string_equals(
                            "$.package.ModelPackageGroupName", targets.model_package_group_name
                        ),
                        sfn.Condition.string_equals("$.package.ModelApprovalStatus", "Approved"),
                    ),
                    keep_facts.next(create_model).next(route),
                )
                .otherwise(not_approved),
            )
            .otherwise(not_approved)
        )
        check_input = (
            sfn.Choice(self, "CheckInput")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.model_package_arn"),
                    sfn.Condition.is_present("$.mode"),
                ),
                sfn.Choice(self, "CheckMode")
                .when(
                    sfn.Condition.and_(
                        sfn.Condition.is_string("$.model_package_arn"),
                        sfn.Condition.or_(
                            sfn.Condition.string_equals("$.mode", "release"),
                            sfn.Condition.string_equals("$.mode", "rollback"),
                        ),
                    ),
                    name_release.next(release_names).next(describe_package).next(package_checks),
                )
                .otherwise(invalid_input),
            )
            .otherwise(invalid_input)
        )
        self.definition = check_input

    # ------------------------------------------------------------------------------------------ building blocks
    def _failure(self, state_id: str, error: str, cause_expression: str) -> sfn.IChainable:
        """A Pass that sets $.failure and joins the shared alert-and-fail tail."""
        cause_key = "cause.$" if cause_expression.startswith(("$", "States.")) else "cause"
        return sfn.Pass(
            self, state_id, parameters={"error": error, cause_key: cause_expression}, result_path="$.failure"
        ).next(self._failed)

    def _endpoint_call(
        self, state_id: str, action: str, parameters: dict, stage: str, **kwargs
    ) -> tasks.CallAwsService:
        return tasks.CallAwsService(
            self,
            state_id,
            service="sagemaker",
            action=action,
            parameters=parameters,
            iam_resources=[self._arn("endpoint", self._t.endpoint_names[stage])],
            **kwargs,
        )

    def _deploy_stage(
        self, stage: str, settings: EndpointStageSettings, *, guarded: bool, on_success: sfn.IChainable
    ) -> sfn.IChainable:
        """Create or update one stage's endpoint with this release's model, wait until it settles, smoke-test it."""
        t = self._t
        title = stage.capitalize()
        name = t.endpoint_names[stage]
        config_arns = self._arn("endpoint-config", f"{t.prefix}-*")
        previous = f"$.{stage}_previous"

        create_config = tasks.CallAwsService(
            self,
            f"Create{title}EndpointConfig",
            service="sagemaker",
            action="createEndpointConfig",
            parameters={
                "EndpointConfigName.$": f"$.names.{stage}_config",
                "ProductionVariants": [
                    {
                        "VariantName": VARIANT_NAME,
                        "ModelName.$": "$.names.model",
                        "InstanceType": settings.instance_type,
                        "InitialInstanceCount": settings.instance_count,
                    }
                ],
                "KmsKeyId": t.key.key_arn,
                "DataCaptureConfig": {
                    "EnableCapture": self._serving.data_capture_percent > 0,
                    "InitialSamplingPercentage": self._serving.data_capture_percent,
                    "DestinationS3Uri": t.data_capture_uri,
                    "KmsKeyId": t.key.key_arn,
                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                    "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
                },
                "Tags": [*self._sdk_tags, {"Key": "stage", "Value": stage}],
            },
            iam_resources=[config_arns],
            additional_iam_statements=[
                iam.PolicyStatement(actions=["sagemaker:AddTags"], resources=[config_arns]),
                iam.PolicyStatement(actions=["kms:CreateGrant", "kms:DescribeKey"], resources=[t.key.key_arn]),
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        create_config.add_catch(
            self._failure(f"{title}ConfigNotCreated", f"{title}DeploymentFailed", "$.error.Cause"), **_catch_all()
        )

        describe_current = self._endpoint_call(
            f"Describe{title}Endpoint",
            "describeEndpoint",
            {"EndpointName": name},
            stage,
            result_selector={"EndpointConfigName.$": "$.EndpointConfigName", "EndpointStatus.$": "$.EndpointStatus"},
            result_path=previous,
        )
        no_endpoint_yet = sfn.Pass(
            self,
            f"No{title}EndpointYet",
            result=sfn.Result.from_object({"EndpointConfigName": NO_PACKAGE, "EndpointStatus": "absent"}),
            result_path=previous,
        )
        # DescribeEndpoint of a missing endpoint fails (ValidationException): that is the "first deployment" path.
        describe_current.add_catch(no_endpoint_yet, errors=[sfn.Errors.TASKS_FAILED], result_path=sfn.JsonPath.DISCARD)

        create_endpoint = self._endpoint_call(
            f"Create{title}Endpoint",
            "createEndpoint",
            {
                "EndpointName": name,
                "EndpointConfigName.$": f"$.names.{stage}_config",
                "Tags": [*self._sdk_tags, {"Key": "stage", "Value": stage}],
            },
            stage,
            additional_iam_statements=[
                iam.PolicyStatement(
                    actions=["sagemaker:CreateEndpoint"], resources=[config_arns]
                ),  # CreateEndpoint authorizes on the endpoint config too
                iam.PolicyStatement(actions=["sagemaker:AddTags"], resources=[self._arn("endpoint", name)]),
                iam.PolicyStatement(actions=["kms:CreateGrant", "kms:DescribeKey"], resources=[t.key.key_arn]),
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        update_parameters = {"EndpointName": name, "EndpointConfigName.$": f"$.names.{stage}_config"}
        if guarded:
            update_parameters["DeploymentConfig"] = deployment_config(settings, t.guard_alarm_names)
        update_endpoint = self._endpoint_call(
            f"Update{title}Endpoint",
            "updateEndpoint",
            update_parameters,
            stage,
            additional_iam_statements=[
                iam.PolicyStatement(actions=["sagemaker:UpdateEndpoint"], resources=[config_arns]),
                iam.PolicyStatement(actions=["kms:CreateGrant", "kms:DescribeKey"], resources=[t.key.key_arn]),
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        not_started = self._failure(f"{title}UpdateNotStarted", f"{title}DeploymentFailed", "$.error.Cause")
        create_endpoint.add_catch(not_started, **_catch_all())
        update_endpoint.add_catch(not_started, **_catch_all())
        busy = self._failure(
            f"{title}EndpointBusy",
            f"{title}DeploymentFailed",
            f"States.Format('{name} is {{}}, not InService: another deployment is running or it failed; "
            f"nothing was changed', {previous}.EndpointStatus)",
        )

        wait = sfn.Wait(
            self,
            f"Wait{title}Endpoint",
            time=sfn.WaitTime.duration(Duration.seconds(self._serving.endpoint_poll_seconds)),
        )
        poll = self._endpoint_call(
            f"Poll{title}Endpoint",
            "describeEndpoint",
            {"EndpointName": name},
            stage,
            result_selector={"EndpointConfigName.$": "$.EndpointConfigName", "EndpointStatus.$": "$.EndpointStatus"},
            result_path=f"$.{stage}_endpoint",
        )
        poll.add_catch(self._failure(f"{title}PollFailed", f"{title}DeploymentFailed", "$.error.Cause"), **_catch_all())
        # InService on the old config after an update means SageMaker rolled it back (guard alarm or failed update).
        not_deployed = self._failure(
            f"{title}NotDeployed",
            f"{title}DeploymentFailed",
            f"States.Format('{name} ended {{}} on endpoint config {{}}, not {{}}: the update failed or a guard alarm "
            f"rolled it back; it serves its previous model', $.{stage}_endpoint.EndpointStatus, "
            f"$.{stage}_endpoint.EndpointConfigName, $.names.{stage}_config)",
        )

        smoke = tasks.LambdaInvoke(
            self,
            f"SmokeTest{title}",
            lambda_function=t.smoke_function,
            payload=sfn.TaskInput.from_object(
                {"endpoint_name": name, "latency_budget_ms": self._serving.latency_budget_ms}
            ),
            result_selector={"passed.$": "$.Payload.passed", "checks.$": "$.Payload.checks"},
            result_path=f"$.smoke_{stage}",
        )
        rollback = self._restore_stage(stage, previous)
        smoke.add_catch(rollback, errors=[sfn.Errors.ALL], result_path=f"$.smoke_{stage}_error")
        smoke_passed = (
            sfn.Choice(self, f"{title}SmokePassed")
            .when(sfn.Condition.boolean_equals(f"$.smoke_{stage}.passed", True), on_success)
            .otherwise(rollback)
        )
        settled = (
            sfn.Choice(self, f"{title}EndpointSettled")
            .when(
                sfn.Condition.or_(
                    *[sfn.Condition.string_equals(f"$.{stage}_endpoint.EndpointStatus", s) for s in IN_PROGRESS]
                ),
                wait,
            )
            .when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals(f"$.{stage}_endpoint.EndpointStatus", "InService"),
                    sfn.Condition.string_equals_json_path(
                        f"$.{stage}_endpoint.EndpointConfigName", f"$.names.{stage}_config"
                    ),
                ),
                smoke.next(smoke_passed),
            )
            .otherwise(not_deployed)
        )
        wait.next(poll).next(settled)
        create_endpoint.next(wait)
        update_endpoint.next(wait)
        no_endpoint_yet.next(create_endpoint)
        current_idle = (
            sfn.Choice(self, f"{title}EndpointIdle")
            .when(sfn.Condition.string_equals(f"{previous}.EndpointStatus", "InService"), update_endpoint)
            .otherwise(busy)
        )
        return create_config.next(describe_current).next(current_idle)

    def _restore_stage(self, stage: str, previous: str) -> sfn.IChainable:
        """After a failed smoke test: back to the previous endpoint config, or no endpoint if there was none."""
        title = stage.capitalize()
        name = self._t.endpoint_names[stage]
        restore = self._endpoint_call(
            f"Restore{title}Endpoint",
            "updateEndpoint",
            {"EndpointName": name, "EndpointConfigName.$": f"{previous}.EndpointConfigName"},
            stage,
            additional_iam_statements=[
                iam.PolicyStatement(
                    actions=["sagemaker:UpdateEndpoint"],
                    resources=[self._arn("endpoint-config", f"{self._t.prefix}-*")],
                )
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        delete = self._endpoint_call(
            f"Delete{title}Endpoint", "deleteEndpoint", {"EndpointName": name}, stage, result_path=sfn.JsonPath.DISCARD
        )
        restore_failed = self._failure(
            f"{title}RestoreFailed",
            f"{title}RollbackFailed",
            f"States.Format('smoke test of {name} failed and restoring it failed too: {{}}', $.error.Cause)",
        )
        restore.add_catch(restore_failed, **_catch_all())
        delete.add_catch(restore_failed, **_catch_all())
        smoke_failed = self._failure(
            f"{title}SmokeFailed",
            f"{title}SmokeTestFailed",
            f"States.Format('smoke test of {name} failed for package {{}}; {name} was returned to endpoint config {{}} "
            f"(none: deleted)', $.model_package_arn, {previous}.EndpointConfigName)",
        )
        restore.next(smoke_failed)
        delete.next(smoke_failed)
        return (
            sfn.Choice(self, f"{title}HadPreviousConfig")
            .when(sfn.Condition.string_equals(f"{previous}.EndpointConfigName", NO_PACKAGE), delete)
            .otherwise(restore)
        )

    def _approval_gate(self, timeout: Duration, *, on_approved: sfn.IChainable) -> sfn.IChainable:
        t = self._t
        env = t.prefix.removeprefix("titanic-")
        request = tasks.SnsPublish(
            self,
            "RequestApproval",
            topic=t.alerts_topic,
            subject=f"{t.prefix}: release approval needed",
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            # An object: Step Functions sends it as JSON; the token must be a field of its own (the CLI reads it).
            message=sfn.TaskInput.from_object(
                {
                    "summary": sfn.JsonPath.format(
                        "Package {} passed its smoke test on {} and waits for release to {}.",
                        sfn.JsonPath.string_at("$.model_package_arn"),
                        t.endpoint_names["staging"],
                        t.endpoint_names["prod"],
                    ),
                    "approve": f"make approve-release ENV={env} TOKEN=<task_token>",
                    "reject": f"make reject-release ENV={env} TOKEN=<task_token> REASON='...'",
                    "task_token": sfn.JsonPath.task_token,
                    "model_package_arn": sfn.JsonPath.string_at("$.model_package_arn"),
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
            topic=t.alerts_topic,
            subject=f"{t.prefix}: release rejected",
            message=sfn.TaskInput.from_text(
                sfn.JsonPath.format(
                    "Release of {} to " + t.endpoint_names["prod"] + " was rejected: {}. Prod is unchanged.",
                    sfn.JsonPath.string_at("$.model_package_arn"),
                    sfn.JsonPath.string_at("$.rejection.Cause"),
                )
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        request.add_catch(
            notify_rejected.next(sfn.Succeed(self, "Rejected", comment="a human rejected the release; prod unchanged")),
            errors=[REJECTED_ERROR],
            result_path="$.rejection",
        )
        request.add_catch(
            self._failure(
                "ApprovalTimedOut",
                "ApprovalTimedOut",
                f"States.Format('nobody approved or rejected {{}} within {timeout.to_hours():g} h; prod is unchanged', "
                "$.model_package_arn)",
            ),
            errors=[sfn.Errors.TIMEOUT],
            result_path="$.error",
        )
        request.add_catch(self._failure("ApprovalFailed", "ApprovalFailed", "$.error.Cause"), **_catch_all())
        return request.next(on_approved)

    def _record_prod_release(self) -> sfn.IChainable:
        t = self._t
        current = t.current_package_parameters["prod"]
        read_current = tasks.CallAwsService(
            self,
            "ReadProdPackage",
            service="ssm",
            action="getParameter",
            parameters={"Name": current.parameter_name},
            iam_resources=[current.parameter_arn],
            result_selector={"value.$": "$.Parameter.Value"},
            result_path="$.replaced",
        )
        write_previous = tasks.CallAwsService(
            self,
            "RecordPreviousProdPackage",
            service="ssm",
            action="putParameter",
            parameters={
                "Name": t.previous_package_parameter.parameter_name,
                "Value.$": "$.replaced.value",
                "Overwrite": True,
            },
            iam_resources=[t.previous_package_parameter.parameter_arn],
            result_path=sfn.JsonPath.DISCARD,
        )
        write_current = tasks.CallAwsService(
            self,
            "RecordProdPackage",
            service="ssm",
            action="putParameter",
            parameters={"Name": current.parameter_name, "Value.$": "$.model_package_arn", "Overwrite": True},
            iam_resources=[current.parameter_arn],
            result_path=sfn.JsonPath.DISCARD,
        )
        prod = self._serving.prod
        resource_id = f"endpoint/{t.endpoint_names['prod']}/variant/{VARIANT_NAME}"
        scaling = {
            "ServiceNamespace": "sagemaker",
            "ResourceId": resource_id,
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        }
        register_scaling = tasks.CallAwsService(
            self,
            "RegisterProdScaling",
            service="applicationautoscaling",
            action="registerScalableTarget",
            iam_action="application-autoscaling:RegisterScalableTarget",
            parameters={**scaling, "MinCapacity": prod.instance_count, "MaxCapacity": prod.max_instances},
            iam_resources=["*"],
            additional_iam_statements=[
                iam.PolicyStatement(
                    actions=["iam:CreateServiceLinkedRole"],
                    resources=[
                        Stack.of(self).format_arn(
                            service="iam",
                            region="",
                            resource="role",
                            resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                            "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                        )
                    ],
                    conditions={
                        "StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}
                    },
                ),
                iam.PolicyStatement(
                    actions=["sagemaker:UpdateEndpointWeightsAndCapacities"],
                    resources=[self._arn("endpoint", t.endpoint_names["prod"])],
                ),
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        put_policy = tasks.CallAwsService(
            self,
            "PutProdScalingPolicy",
            service="applicationautoscaling",
            action="putScalingPolicy",
            iam_action="application-autoscaling:PutScalingPolicy",
            parameters={
                **scaling,
                "PolicyName": f"{t.endpoint_names['prod']}-invocations",
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": prod.target_invocations_per_instance,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                    "ScaleInCooldown": 300,
                    "ScaleOutCooldown": 60,
                },
            },
            iam_resources=["*"],
            result_path=sfn.JsonPath.DISCARD,
        )
        notify = tasks.SnsPublish(
            self,
            "NotifyReleased",
            topic=t.alerts_topic,
            subject=f"{t.prefix}: model released to prod",
            message=sfn.TaskInput.from_text(
                sfn.JsonPath.format(
                    "{} now serves package {} (mode {}); it replaced {}. Rollback: make rollback ENV="
                    + t.prefix.removeprefix("titanic-")
                    + " STAGE=prod",
                    t.endpoint_names["prod"],
                    sfn.JsonPath.string_at("$.model_package_arn"),
                    sfn.JsonPath.string_at("$.mode"),
                    sfn.JsonPath.string_at("$.replaced.value"),
                )
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        not_recorded = self._failure(
            "ProdReleaseNotRecorded",
            "RecordFailed",
            "States.Format('prod serves the new package but recording or scaling it failed: {}', $.error.Cause)",
        )
        for state in (read_current, write_previous, write_current, register_scaling, put_policy):
            state.add_catch(not_recorded, **_catch_all())
        return (
            read_current.next(write_previous)
            .next(write_current)
            .next(register_scaling)
            .next(put_policy)
            .next(notify)
            .next(sfn.Succeed(self, "Released"))
        )


def _catch_all() -> dict:
    return {"errors": [sfn.Errors.ALL], "result_path": "$.error"}
