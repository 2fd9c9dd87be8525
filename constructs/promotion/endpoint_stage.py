"""Phase 04, promotion steps 2 and 4: roll one endpoint stage (staging, then prod) onto the release's model.

One fragment serves both stages; prod's update carries the deployment guardrails (guardrails.py) and follows AWS's
procedure for autoscaled endpoints (autoscaling.py): it keeps the capacity autoscaling reached and suspends scaling
only for an instance-type change.

    Create<Stage>EndpointConfig -> Describe<Stage>Endpoint -> <Stage>EndpointIdle -> [prod: scaling check]
    -> Update (or, when DescribeEndpoint says "Could not find endpoint", Create) -> wait until settled
    -> SmokeTest<Stage> -> <Stage>SmokePassed (end)
    a failed smoke test: <Stage>HadPreviousConfig -> Restore (or Delete) the endpoint -> <Stage>SmokeFailed

Any other failure of DescribeEndpoint (access denied, throttling) changes nothing: it alerts and fails. Every failure
leaves the endpoint on its last good endpoint config and joins the failure tail.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from config.names import NO_ENDPOINT_CONFIG
from config.sections import EndpointStageSettings, ServingSettings
from constructs import Construct
from constructs.promotion.autoscaling import AUTOSCALING_REASON, ProdScaling
from constructs.promotion.endpoint_config import endpoint_config_parameters
from constructs.promotion.targets import PromotionTargets
from constructs.promotion.tasks import (
    describe_endpoint,
    endpoint_call,
    sagemaker_arn,
    sdk_tags,
    use_key,
)
from constructs.workflow_fragments import (
    ALL_ERRORS,
    ChoiceExit,
    FailureTail,
    Fragment,
    PollUntilSettled,
    catch_all,
    error_cause,
    sdk_call,
)

# Endpoint statuses that are still moving: keep polling.
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack")
# The only DescribeEndpoint failure that means "no endpoint yet" (SageMaker's ValidationException message; the error
# name differs between AWS and emulators, the message does not).
ENDPOINT_MISSING = "*Could not find endpoint*"
# Variant properties an update takes from the new endpoint config although the others are retained (capacity and
# weight stay what autoscaling set; capture settings follow the config).
NOT_RETAINED = [{"VariantPropertyType": "DataCaptureConfig"}]


class EndpointRollout(Fragment):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        fleet: EndpointStageSettings,
        guardrails: dict | None,
        targets: PromotionTargets,
        serving: ServingSettings,
        failed: FailureTail,
        scaling: ProdScaling | None = None,
    ) -> None:
        """`guardrails`: the DeploymentConfig of the update (None: SageMaker's default, unguarded update).
        `scaling`: the stage's autoscaling (None: a fixed fleet); its updates retain the variant's capacity."""
        super().__init__(scope, construct_id)
        self._stage, self._title = stage, stage.capitalize()
        self._name = targets.endpoint_names[stage]
        self._previous = f"$.{stage}_previous"  # {EndpointConfigName, EndpointStatus} before this release
        self._config_arns = sagemaker_arn(self, "endpoint-config", targets.names.release_resources_pattern)
        self.config_arns = self._config_arns  # every endpoint config a release creates (one pattern for all stages)
        self._targets, self._serving, self._failed, self._scaling = targets, serving, failed, scaling
        self.wildcard_reasons = {
            self._config_arns: "each release creates endpoint configs named <prefix>-<stage>-<release uuid> and "
            "rollbacks reuse older ones; only this environment's configs match",
            # CDK's LambdaInvoke grants the function ARN and ARN:* (its versions and aliases).
            f"{targets.smoke_function.function_arn}:*": "CDK's LambdaInvoke grants the function and its versions "
            "(ARN:*) so retries of a qualified invoke work; it is the one smoke-test function",
            "*": AUTOSCALING_REASON,  # Delete<Stage>Endpoint deregisters a scalable target
        }

        create_config = self._create_config(fleet)
        describe_current, no_endpoint_yet = self._describe_current()
        create_endpoint, update_endpoint = self._create_or_update(guardrails)
        if scaling is not None:
            self.wildcard_reasons.update(scaling.wildcard_reasons)
        busy = self._failure(
            "EndpointBusy",
            "DeploymentFailed",
            sfn.JsonPath.format(
                f"{self._name} is {{}}, not InService: another deployment is running or it failed; nothing was changed",
                sfn.JsonPath.string_at(f"{self._previous}.EndpointStatus"),
            ),
        )
        settle = self._wait_until_settled()
        smoke, smoke_passed = self._smoke_test()
        settle.next(smoke)
        create_endpoint.next(settle)
        update_endpoint.next(settle)
        no_endpoint_yet.next(create_endpoint)
        update = update_endpoint
        if scaling is not None:
            update = scaling.suspend_for_instance_type_change(
                self._previous,
                update_endpoint,
                self._failure("ConfigNotDescribed", "DeploymentFailed", error_cause()),
            )
        idle = (
            sfn.Choice(self, f"{self._title}EndpointIdle")
            .when(sfn.Condition.string_equals(f"{self._previous}.EndpointStatus", "InService"), update)
            .otherwise(busy)
        )
        create_config.next(describe_current).next(idle)
        self._start = create_config
        self._ends = (ChoiceExit(smoke_passed, sfn.Condition.boolean_equals(f"$.smoke_{stage}.passed", True)),)

    # ------------------------------------------------------------------------------------------ pieces, in order
    def _failure(self, what: str, error: str, cause: str) -> sfn.Chain:
        return self._failed.failure(self, f"{self._title}{what}", f"{self._title}{error}", cause)

    def _create_config(self, fleet: EndpointStageSettings) -> tasks.CallAwsService:
        t = self._targets
        create_config = sdk_call(
            self,
            f"Create{self._title}EndpointConfig",
            service="sagemaker",
            action="createEndpointConfig",
            parameters=endpoint_config_parameters(self._stage, fleet, t, self._serving.data_capture_percent),
            iam_resources=[self._config_arns],
            additional_iam_statements=[
                iam.PolicyStatement(actions=["sagemaker:AddTags"], resources=[self._config_arns]),
                use_key(t.key),
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        create_config.add_catch(self._failure("ConfigNotCreated", "DeploymentFailed", error_cause()), **catch_all())
        return create_config

    def _describe_current(self) -> tuple[tasks.CallAwsService, sfn.Pass]:
        """What the endpoint serves now. Only "Could not find endpoint" means the first deployment; any other failure
        of DescribeEndpoint alerts and stops before anything is created or changed."""
        describe_current = describe_endpoint(self, f"Describe{self._title}Endpoint", self._name, self._previous)
        no_endpoint_yet = sfn.Pass(
            self,
            f"No{self._title}EndpointYet",
            result=sfn.Result.from_object({"EndpointConfigName": NO_ENDPOINT_CONFIG, "EndpointStatus": "absent"}),
            result_path=self._previous,
        )
        error = f"$.{self._stage}_describe_error"
        not_described = self._failure(
            "NotDescribed",
            "DeploymentFailed",
            sfn.JsonPath.format(
                f"could not describe {self._name} ({{}}): {{}}; nothing was created or changed",
                sfn.JsonPath.string_at(f"{error}.Error"),
                sfn.JsonPath.string_at(f"{error}.Cause"),
            ),
        )
        missing = (
            sfn.Choice(self, f"{self._title}EndpointMissing")
            .when(sfn.Condition.string_matches(f"{error}.Cause", ENDPOINT_MISSING), no_endpoint_yet)
            .otherwise(not_described)
        )
        describe_current.add_catch(missing, errors=[ALL_ERRORS], result_path=error)
        return describe_current, no_endpoint_yet

    def _create_or_update(self, guardrails: dict | None) -> tuple[tasks.CallAwsService, tasks.CallAwsService]:
        key = self._targets.key
        create_endpoint = endpoint_call(
            self,
            f"Create{self._title}Endpoint",
            "createEndpoint",
            {
                "EndpointName": self._name,
                "EndpointConfigName.$": f"$.names.{self._stage}_config",
                "Tags": sdk_tags(self._targets.tags, stage=self._stage),
            },
            self._name,
            additional_iam_statements=[
                # CreateEndpoint authorizes on the endpoint config too.
                iam.PolicyStatement(actions=["sagemaker:CreateEndpoint"], resources=[self._config_arns]),
                iam.PolicyStatement(
                    actions=["sagemaker:AddTags"], resources=[sagemaker_arn(self, "endpoint", self._name)]
                ),
                use_key(key),
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        update_parameters = {
            "EndpointName": self._name,
            "EndpointConfigName.$": f"$.names.{self._stage}_config",
            **self._retained(),
        }
        statements = [iam.PolicyStatement(actions=["sagemaker:UpdateEndpoint"], resources=[self._config_arns])]
        if guardrails is not None:
            update_parameters["DeploymentConfig"] = guardrails
            # Auto-rollback reads its alarms with the caller's permission (deployment guardrails documentation).
            statements.append(
                iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=self._guard_alarm_arns())
            )
        update_endpoint = endpoint_call(
            self,
            f"Update{self._title}Endpoint",
            "updateEndpoint",
            update_parameters,
            self._name,
            additional_iam_statements=[*statements, use_key(key)],
            result_path=sfn.JsonPath.DISCARD,
        )
        not_started = self._failure("UpdateNotStarted", "DeploymentFailed", error_cause())
        create_endpoint.add_catch(not_started, **catch_all())
        update_endpoint.add_catch(not_started, **catch_all())
        return create_endpoint, update_endpoint

    def _retained(self) -> dict:
        """An autoscaled stage keeps the capacity autoscaling set: SageMaker updates the variant with its current
        DesiredInstanceCount, not the new config's initial count (AWS's procedure for autoscaled endpoints)."""
        if self._scaling is None:
            return {}
        return {"RetainAllVariantProperties": True, "ExcludeRetainedVariantProperties": NOT_RETAINED}

    def _guard_alarm_arns(self) -> list[str]:
        arn = Stack.of(self).format_arn
        colon = ArnFormat.COLON_RESOURCE_NAME
        return [
            arn(service="cloudwatch", resource="alarm", resource_name=n, arn_format=colon)
            for n in self._targets.guard_alarm_names
        ]

    def _wait_until_settled(self) -> PollUntilSettled:
        """Until the endpoint leaves the in-progress statuses; settled = InService on this release's config."""
        status, config = f"$.{self._stage}_endpoint.EndpointStatus", f"$.{self._stage}_endpoint.EndpointConfigName"
        poll = describe_endpoint(self, f"Poll{self._title}Endpoint", self._name, f"$.{self._stage}_endpoint")
        poll.add_catch(self._failure("PollFailed", "DeploymentFailed", error_cause()), **catch_all())
        # InService on the old config after an update means SageMaker rolled it back (guard alarm or failed update).
        not_deployed = self._failure(
            "NotDeployed",
            "DeploymentFailed",
            sfn.JsonPath.format(
                f"{self._name} ended {{}} on endpoint config {{}}, not {{}}: the update failed or a guard alarm "
                "rolled it back; it serves its previous model",
                sfn.JsonPath.string_at(status),
                sfn.JsonPath.string_at(config),
                sfn.JsonPath.string_at(f"$.names.{self._stage}_config"),
            ),
        )
        return PollUntilSettled(
            self,
            f"Settle{self._title}Endpoint",
            wait_state_id=f"Wait{self._title}Endpoint",
            interval=Duration.seconds(self._serving.endpoint_poll_seconds),
            poll=poll,
            choice_state_id=f"{self._title}EndpointSettled",
            in_progress=sfn.Condition.or_(*[sfn.Condition.string_equals(status, s) for s in IN_PROGRESS]),
            settled=sfn.Condition.and_(
                sfn.Condition.string_equals(status, "InService"),
                sfn.Condition.string_equals_json_path(config, f"$.names.{self._stage}_config"),
            ),
            otherwise=not_deployed,
        )

    def _smoke_test(self) -> tuple[tasks.LambdaInvoke, sfn.Choice]:
        """The smoke-test Lambda judges the endpoint; a failure or an error restores the endpoint."""
        smoke = tasks.LambdaInvoke(
            self,
            f"SmokeTest{self._title}",
            lambda_function=self._targets.smoke_function,
            payload=sfn.TaskInput.from_object(
                {"endpoint_name": self._name, "latency_budget_ms": self._serving.latency_budget_ms}
            ),
            result_selector={"passed.$": "$.Payload.passed", "checks.$": "$.Payload.checks"},
            result_path=f"$.smoke_{self._stage}",
        )
        restore = self._restore()
        smoke.add_catch(restore, errors=[ALL_ERRORS], result_path=f"$.smoke_{self._stage}_error")
        smoke_passed = sfn.Choice(self, f"{self._title}SmokePassed").otherwise(restore)
        smoke.next(smoke_passed)
        return smoke, smoke_passed

    def _restore(self) -> sfn.Choice:
        """After a failed smoke test: back to the previous endpoint config, or no endpoint if there was none."""
        restore = endpoint_call(
            self,
            f"Restore{self._title}Endpoint",
            "updateEndpoint",
            {
                "EndpointName": self._name,
                "EndpointConfigName.$": f"{self._previous}.EndpointConfigName",
                **self._retained(),
            },
            self._name,
            additional_iam_statements=[
                iam.PolicyStatement(actions=["sagemaker:UpdateEndpoint"], resources=[self._config_arns])
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        delete = endpoint_call(
            self,
            f"Delete{self._title}Endpoint",
            "deleteEndpoint",
            {"EndpointName": self._name},
            self._name,
            # Deleting a scalable target's endpoint deregisters it, with the caller's permission (AWS documentation:
            # "Delete endpoints configured for auto scaling").
            additional_iam_statements=[
                iam.PolicyStatement(actions=["application-autoscaling:DeregisterScalableTarget"], resources=["*"])
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        restore_failed = self._failure(
            "RestoreFailed",
            "RollbackFailed",
            sfn.JsonPath.format(f"smoke test of {self._name} failed and restoring it failed too: {{}}", error_cause()),
        )
        restore.add_catch(restore_failed, **catch_all())
        delete.add_catch(restore_failed, **catch_all())
        smoke_failed = self._failure(
            "SmokeFailed",
            "SmokeTestFailed",
            sfn.JsonPath.format(
                f"smoke test of {self._name} failed for package {{}}; {self._name} was returned to endpoint config "
                "{} (none: deleted)",
                sfn.JsonPath.string_at("$.model_package_arn"),
                sfn.JsonPath.string_at(f"{self._previous}.EndpointConfigName"),
            ),
        )
        restore.next(smoke_failed)
        delete.next(smoke_failed)
        return (
            sfn.Choice(self, f"{self._title}HadPreviousConfig")
            .when(sfn.Condition.string_equals(f"{self._previous}.EndpointConfigName", NO_ENDPOINT_CONFIG), delete)
            .otherwise(restore)
        )
