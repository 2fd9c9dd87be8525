"""Phases 06 (observability) and 07 (cost governance): what watches the environment as a whole.

- Alarms to the alerts topic, each naming its runbook (stacks/observability_alarms.py): failed pipeline runs and
  jobs, the staging endpoint's 5xx and latency (prod's guard alarms live in the serving stack), every Lambda
  function's errors and throttles and its dead-letter queue, failed releases by kind, quarantined data, and the
  composite release-health alarm.
- The dashboard (stacks/observability_dashboard.py).
- Log retention on the log groups SageMaker writes per endpoint, created here before any endpoint exists.
- The monthly budget and the weekly orphan report (stacks/cost_governance.py); where endpoints sleep, the sleeper
  and its schedules (stacks/endpoint_sleep.py).

Wired from the other stacks' typed outputs; the Lambda functions, dead-letter queues, alarms and workflows to watch
are collected from the stacks' construct trees (constructs/inventory.py), so what another change adds is watched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch

from config import EnvironmentConfig
from config.resource_names import endpoint_log_group
from constructs import Construct
from constructs.inventory import collect
from constructs.retention import retained_log_group
from stacks.cost_governance import monthly_budget, orphan_report
from stacks.endpoint_sleep import endpoint_sleeper
from stacks.foundation import Foundation
from stacks.observability_alarms import (
    Alerting,
    data_quarantined_alarm,
    function_alarms,
    pipeline_alarms,
    release_health_alarm,
    staging_endpoint_alarms,
    workflow_error_alarms,
)
from stacks.observability_dashboard import build_dashboard
from stacks.serving import Serving


@dataclass(frozen=True)
class Observed:
    """What the observability stack watches: typed outputs it reads, and the stacks whose construct trees hold the
    Lambda functions, dead-letter queues, alarms and state machines it collects."""

    foundation: Foundation
    serving: Serving
    stacks: Sequence[Stack]


@dataclass(frozen=True)
class Observability:
    dashboard_name: str
    alarm_names: tuple[str, ...]  # every alarm of the environment, this stack's and the others'
    release_health_alarm: str
    budget_name: str
    orphan_report_function: str


class ObservabilityStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, observed: Observed, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        names, foundation = config.names, observed.foundation
        for stack in observed.stacks:
            self.add_stack_dependency(
                stack
            )  # alarms, log groups and state machines are addressed by name, not by export
        self._endpoint_log_groups(config, observed.serving, foundation)
        monthly_budget(self, config, foundation)
        orphan_report(self, config, foundation)
        endpoint_sleeper(self, config, foundation)  # only where [cost] endpoints_sleep is true

        watched = collect([*observed.stacks, self])
        alerting = Alerting(self, foundation.alerts_topic)
        pipeline_alarms(alerting, names)
        staging_endpoint_alarms(alerting, names, config.serving)
        function_alarms(alerting, names, watched.functions)
        workflow_metrics = workflow_error_alarms(self, alerting, names)
        data_quarantined_alarm(alerting, names)
        others = [name for name in watched.alarms if name not in alerting.named]
        health = release_health_alarm(self, names, foundation.alerts_topic, alerting.named, others)

        imported = [cloudwatch.Alarm.from_alarm_name(self, f"Watched{i}", name) for i, name in enumerate(others)]
        build_dashboard(self, config, watched, [health, *alerting.alarms, *imported], workflow_metrics)
        self.outputs = Observability(
            dashboard_name=names.dashboard,
            alarm_names=(*others, *alerting.named, names.release_health_alarm),
            release_health_alarm=names.release_health_alarm,
            budget_name=names.budget,
            orphan_report_function=names.orphan_report_function,
        )

    def _endpoint_log_groups(self, config: EnvironmentConfig, serving: Serving, foundation: Foundation) -> None:
        """SageMaker creates /aws/sagemaker/Endpoints/<endpoint> on first use with no retention (kept forever);
        created here first, with the environment's retention and key, it outlives every sleep and rollout."""
        for stage, endpoint in serving.endpoint_names.items():
            retained_log_group(
                self,
                f"{stage.capitalize()}EndpointLogs",
                name=endpoint_log_group(endpoint),
                retention_days=config.log_retention_days,
                destroy_on_delete=config.destroy_on_delete,
                key=foundation.key,
            )
