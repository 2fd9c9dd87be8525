"""Phase 04: how an update reaches an endpoint stage: SageMaker deployment guardrails (blue/green traffic shifting
with alarm auto-rollback), as the DeploymentConfig of UpdateEndpoint. Plain data: no CDK objects."""

from __future__ import annotations

from config.sections import EndpointStageSettings

MAX_ROLLOUT_SECONDS = 28800  # SageMaker's upper limit of MaximumExecutionTimeoutInSeconds
MIN_ROLLOUT_SECONDS = 600  # its lower limit
PROVISIONING_ALLOWANCE_SECONDS = 1800  # launching the new fleet before traffic moves


def max_rollout_seconds(stage: EndpointStageSettings) -> int:
    """Upper bound SageMaker enforces on one blue/green rollout: every traffic step, the bake time, provisioning."""
    steps = 1 if stage.traffic_routing == "ALL_AT_ONCE" else max(1, 100 // stage.traffic_step_percent)
    needed = steps * stage.wait_interval_seconds + stage.termination_wait_seconds + PROVISIONING_ALLOWANCE_SECONDS
    return min(MAX_ROLLOUT_SECONDS, max(MIN_ROLLOUT_SECONDS, needed))


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
