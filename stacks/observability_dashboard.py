"""Phase 06: the environment's CloudWatch dashboard, the page an on-call person opens first. Its layout is this code,
reviewed through the template snapshots (the dashboard body is in the observability stack's template).

Top to bottom: what is in ALARM and which runbook to open; the training pipeline (runs, step durations, the last
evaluated quality metric against the gate); each endpoint stage; both workflows; every Lambda function and its
dead-letter queue; the place of the drift metrics; what the month costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch

from config import EnvironmentConfig
from config.names import STAGES, VARIANT_NAME
from config.paths import PROJECT_ROOT
from config.resource_names import RUNBOOKS_FOLDER, SAGEMAKER_JOB_LOG_GROUPS
from constructs import Construct
from constructs.inventory import Inventory
from stacks.observability_alarms import FIVE_MINUTES, JOB_STEPS, PIPELINE_NAMESPACE

FULL, HALF, THIRD = 24, 12, 8
HOUR = Duration.hours(1)


def runbook_index(root: Path = PROJECT_ROOT) -> list[tuple[str, str]]:
    """(path, title) of every runbook, from the first `# ` line of each file."""
    found = []
    for path in sorted((root / RUNBOOKS_FOLDER).glob("*.md")):
        if path.name == "README.md":
            continue
        title = next((line[2:].strip() for line in path.read_text().splitlines() if line.startswith("# ")), path.stem)
        found.append((f"{RUNBOOKS_FOLDER}/{path.name}", title))
    return found


def _metric(namespace: str, name: str, dimensions: dict, statistic: str = "Sum", label: str | None = None):
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=FIVE_MINUTES,  # one Duration for every metric: each Duration.minutes() is a call to the jsii kernel
        label=label,
    )


def _graph(title: str, left: Sequence[cloudwatch.IMetric], width: int = THIRD, **options) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=list(left), width=width, height=6, **options)


def _header(config: EnvironmentConfig, alarms: Sequence[cloudwatch.IAlarm]) -> list[cloudwatch.IWidget]:
    names = config.names
    runbooks = "\n".join(f"- `{path}`: {title}" for path, title in runbook_index())
    text = (
        f"# {names.prefix}: operations\n"
        f"Every alarm mails `{names.alerts_topic}` and names its runbook in its description. "
        f"Release health: `{names.release_health_alarm}`. Commands: `make release-check ENV={config.name}`, "
        f"`make orphans ENV={config.name}`, `make cost ENV={config.name}`.\n\n**Runbooks**\n{runbooks}"
    )
    return [
        cloudwatch.AlarmStatusWidget(title=f"Alarms of {names.prefix}", alarms=list(alarms), width=HALF, height=8),
        cloudwatch.TextWidget(markdown=text, width=HALF, height=8),
    ]


def _pipeline(config: EnvironmentConfig) -> list[cloudwatch.IWidget]:
    pipeline = config.names.pipeline
    runs = [
        _metric(PIPELINE_NAMESPACE, f"Execution{what}", {"PipelineName": pipeline}, label=what.lower())
        for what in ("Started", "Succeeded", "Failed", "Stopped")
    ]
    steps = [
        _metric(PIPELINE_NAMESPACE, "StepDuration", {"PipelineName": pipeline, "StepName": s}, "Average", s)
        for s in JOB_STEPS
    ]
    metric, threshold = config.ml.quality_metric, config.ml.quality_threshold
    # ml/evaluate.py prints "ModelEvaluation: <n> test rows: accuracy 0.895, ..." in the job's log stream.
    quality = cloudwatch.LogQueryWidget(
        title=f"Last evaluations: {metric} (gate: >= {threshold:g}; account-wide log group, newest first)",
        log_group_names=[SAGEMAKER_JOB_LOG_GROUPS[1]],
        query_lines=[
            "fields @timestamp, @logStream",
            "filter @message like /ModelEvaluation: .* test rows:/",
            f"parse @message /{metric} (?<{metric}>[0-9.]+)/",
            "sort @timestamp desc",
            "limit 5",
        ],
        view=cloudwatch.LogQueryVisualizationType.TABLE,
        width=THIRD,
        height=6,
    )
    return [
        _graph(f"Pipeline {pipeline}: executions", runs, statistic="Sum", period=HOUR),
        _graph("Job step duration (average)", steps),
        quality,
    ]


def _endpoint(config: EnvironmentConfig, stage: str) -> list[cloudwatch.IWidget]:
    endpoint = config.names.endpoint(stage)
    dimensions = {"EndpointName": endpoint, "VariantName": VARIANT_NAME}
    traffic = [
        _metric("AWS/SageMaker", name, dimensions, label=label)
        for name, label in (
            ("Invocations", "invocations"),
            ("Invocation4XXErrors", "4xx"),
            ("Invocation5XXErrors", "5xx"),
        )
    ]
    latency = [
        _metric("AWS/SageMaker", "ModelLatency", dimensions, statistic, f"{statistic} (us)")
        for statistic in ("p50", "p99")
    ]
    budget = cloudwatch.HorizontalAnnotation(value=config.serving.max_model_latency_ms * 1000, label="alarm")
    usage = [
        _metric("/aws/sagemaker/Endpoints", name, dimensions, "Average", label)
        for name, label in (("CPUUtilization", "CPU %"), ("MemoryUtilization", "memory %"))
    ]
    return [
        _graph(f"{endpoint}: invocations and errors", traffic),
        _graph(f"{endpoint}: model latency", latency, left_annotations=[budget]),
        _graph(f"{endpoint}: instance usage", usage),
    ]


def _workflows(scope: Construct, inventory: Inventory, workflow_metrics: dict) -> list[cloudwatch.IWidget]:
    widgets: list[cloudwatch.IWidget] = []
    for machine in inventory.state_machines:
        arn = Stack.of(scope).format_arn(
            service="states", resource="stateMachine", resource_name=machine, arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        outcomes = [
            _metric("AWS/States", f"Executions{what}", {"StateMachineArn": arn}, label=what.lower())
            for what in ("Started", "Succeeded", "Failed", "TimedOut", "Aborted")
        ]
        widgets.append(_graph(f"Workflow {machine}", outcomes))
    kinds = [metric.with_(label=what) for what, metric in workflow_metrics.items()]
    widgets.append(_graph("Failed releases by kind", kinds))
    return widgets


def _functions(inventory: Inventory) -> list[cloudwatch.IWidget]:
    def each(name: str, statistic: str = "Sum") -> list[cloudwatch.IMetric]:
        return [_metric("AWS/Lambda", name, {"FunctionName": f.name}, statistic, f.name) for f in inventory.functions]

    queues = [
        _metric(
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": f.dead_letter_queue},
            "Maximum",
            f.dead_letter_queue,
        )
        for f in inventory.functions
    ]
    return [
        _graph("Lambda errors", each("Errors"), width=6),
        _graph("Lambda throttles", each("Throttles"), width=6),
        _graph("Lambda duration p99 (ms)", each("Duration", "p99"), width=6),
        _graph("Dead-letter queues: visible messages", queues, width=6),
    ]


def _drift_and_cost(config: EnvironmentConfig) -> list[cloudwatch.IWidget]:
    names = config.names
    drift = (
        "## Model drift\nThe drift job of each endpoint publishes its metrics and alarm here (issue 10); its alarms "
        "already appear in the alarm status above, found by the endpoint name."
    )
    cost = (
        f"## Cost\nBudget `{names.budget}`: ${config.cost.monthly_budget_usd:g} a month, alerts at "
        f"{', '.join(f'{p} %' for p in config.cost.actual_alert_percents)} of actual spend and "
        f"{config.cost.forecast_alert_percent} % of the forecast. Estimate: `make cost ENV={config.name}`. "
        f"Endpoints sleep outside working hours: {'yes' if config.cost.endpoints_sleep else 'no'}."
    )
    return [
        cloudwatch.TextWidget(markdown=drift, width=HALF, height=3),
        cloudwatch.TextWidget(markdown=cost, width=HALF, height=3),
    ]


def build_dashboard(
    scope: Construct,
    config: EnvironmentConfig,
    inventory: Inventory,
    alarms: Sequence[cloudwatch.IAlarm],
    workflow_metrics: dict,
) -> cloudwatch.Dashboard:
    dashboard = cloudwatch.Dashboard(
        scope, "Dashboard", dashboard_name=config.names.dashboard, default_interval=Duration.days(7)
    )
    dashboard.add_widgets(*_header(config, alarms))
    dashboard.add_widgets(*_pipeline(config))
    for stage in STAGES:
        dashboard.add_widgets(*_endpoint(config, stage))
    dashboard.add_widgets(*_workflows(scope, inventory, workflow_metrics))
    dashboard.add_widgets(*_functions(inventory))
    dashboard.add_widgets(*_drift_and_cost(config))
    return dashboard
