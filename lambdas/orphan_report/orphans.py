"""Phase 07: what costs money (or clutters) in one environment and is not referenced by its release records.

Shared by the weekly Lambda (lambdas/orphan_report/handler.py) and `make orphans` (scripts/orphans.py): both pass
boto3 clients and the same Settings, so the report an operator runs is the one the alerts topic receives. It only
reads; deleting stays a human decision (`make cleanup`). The release records are the ones the promotion workflow
writes: table `titanic-<env>-releases`, partition key `stage`, sort key `released_at`; the newest item of a stage is
what it serves, the second newest of prod its rollback target. An empty or absent table is tolerated (no release yet).

Findings, each with whether it costs money while it exists:
- endpoint: a titanic endpoint no release record names (billed per instance-hour)
- endpoint-config, model: unreferenced by the records and unused by any endpoint (no charge: clutter)
- job: a training or processing job still running although its pipeline execution is over (billed)
- mlflow: a tracking server the configuration does not expect (billed per hour); apps when tracking is not "app"
- idle-endpoint: an endpoint in service with zero invocations for `idle_days` days (billed for nothing)
- tags: a project resource of the environment missing a mandatory tag (cost allocation cannot see it)
- log-retention: an account-wide SageMaker job log group that keeps logs forever or shorter than configured
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

STAGES = ("staging", "prod")
VARIANT = "AllTraffic"
PIPELINE_EXECUTION_TAG = "sagemaker:pipeline-execution-arn"  # SageMaker tags each job a pipeline step starts
RUNNING = {"Executing", "Stopping"}


@dataclass(frozen=True)
class Settings:
    environment: str
    project: str
    name_prefix: str  # "titanic-<env>-": every runtime resource the workflows create starts with it
    releases_table: str
    pipeline_name: str
    expected_mlflow_servers: tuple[str, ...]  # the tracking server the configuration deploys, if any
    mlflow_apps_expected: bool
    mandatory_tags: tuple[str, ...]
    idle_days: int
    job_log_groups: tuple[str, ...]
    log_retention_days: int

    @classmethod
    def from_environment(cls, env: Any = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            environment=env["ENVIRONMENT_NAME"],
            project=env["PROJECT"],
            name_prefix=env["NAME_PREFIX"],
            releases_table=env["RELEASES_TABLE"],
            pipeline_name=env["PIPELINE_NAME"],
            expected_mlflow_servers=tuple(filter(None, env["EXPECTED_MLFLOW_SERVERS"].split(","))),
            mlflow_apps_expected=env["MLFLOW_APPS_EXPECTED"] == "true",
            mandatory_tags=tuple(env["MANDATORY_TAGS"].split(",")),
            idle_days=int(env["IDLE_DAYS"]),
            job_log_groups=tuple(env["JOB_LOG_GROUPS"].split(",")),
            log_retention_days=int(env["LOG_RETENTION_DAYS"]),
        )


@dataclass(frozen=True)
class Clients:
    sagemaker: Any
    dynamodb: Any
    cloudwatch: Any
    tagging: Any
    logs: Any


@dataclass(frozen=True)
class Finding:
    kind: str
    name: str
    reason: str
    costs_money: bool


@dataclass
class Report:
    environment: str
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str:
        billed = sum(finding.costs_money for finding in self.findings)
        return f"titanic {self.environment}: {len(self.findings)} orphan finding(s), {billed} billed"[:100]

    def lines(self) -> list[str]:
        rows = [f"{'kind':<16} {'resource':<48} {'cost':<9}  why"] + [
            f"{f.kind:<16} {f.name:<48} {'billed' if f.costs_money else 'no charge':<9}  {f.reason}"
            for f in self.findings
        ]
        return rows + [f"note: {note}" for note in self.notes]


def find(clients: Clients, settings: Settings, now: datetime | None = None) -> Report:
    """Every finding of the environment, in a stable order (kind, then name)."""
    now = now or datetime.now(UTC)
    report = Report(settings.environment)
    records = _release_records(clients.dynamodb, settings, report)
    endpoints = _sagemaker(clients.sagemaker, "list_endpoints", "Endpoints", "Endpoint", settings)
    configs = _sagemaker(clients.sagemaker, "list_endpoint_configs", "EndpointConfigs", "EndpointConfig", settings)
    models = _sagemaker(clients.sagemaker, "list_models", "Models", "Model", settings)
    report.findings += _unreferenced(clients.sagemaker, records, endpoints, configs, models)
    report.findings += _idle(clients.cloudwatch, endpoints, settings, now)
    report.findings += _running_jobs(clients, settings)
    report.findings += _mlflow(clients.sagemaker, settings)
    report.findings += _missing_tags(clients, settings, {**endpoints, **configs, **models})
    report.findings += _log_retention(clients.logs, settings)
    report.findings.sort(key=lambda f: (f.kind, f.name))
    return report


# ---------------------------------------------------------------------------------------------- release records
def _release_records(dynamodb: Any, settings: Settings, report: Report) -> dict[str, list[dict]]:
    """stage -> its newest two records (newest first), plain values."""
    records: dict[str, list[dict]] = {}
    for stage in STAGES:
        try:
            items = dynamodb.query(
                TableName=settings.releases_table,
                KeyConditionExpression="#stage = :stage",
                ExpressionAttributeNames={"#stage": "stage"},
                ExpressionAttributeValues={":stage": {"S": stage}},
                ScanIndexForward=False,
                Limit=2,
            )["Items"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            report.notes.append(f"release records table {settings.releases_table} not found: nothing is referenced")
            return {}
        records[stage] = [{key: next(iter(value.values())) for key, value in item.items()} for item in items]
    if not any(records.values()):
        report.notes.append("no release recorded yet: every endpoint, config and model counts as unreferenced")
    return records


# ---------------------------------------------------------------------------------------------- SageMaker hosting
def _sagemaker(sagemaker: Any, operation: str, key: str, kind: str, settings: Settings) -> dict[str, dict]:
    """name -> summary (with its ARN) of the environment's resources of one kind, found by name prefix."""
    found = {}
    for page in sagemaker.get_paginator(operation).paginate(NameContains=settings.name_prefix):
        for item in page[key]:
            if item[f"{kind}Name"].startswith(settings.name_prefix):
                found[item[f"{kind}Name"]] = {**item, "kind": kind, "arn": item[f"{kind}Arn"]}
    return found


def _unreferenced(sagemaker: Any, records: dict, endpoints: dict, configs: dict, models: dict) -> list[Finding]:
    current = [items[0] for items in records.values() if items]
    rollback_target = records.get("prod", [])[1:2]
    kept = current + rollback_target
    served = {record["endpoint_name"]: record["endpoint_config_name"] for record in current}
    findings = []
    in_use_configs = set()
    for name in endpoints:
        config = sagemaker.describe_endpoint(EndpointName=name).get("EndpointConfigName", "")
        in_use_configs.add(config)
        if name not in served:
            findings.append(Finding("endpoint", name, "no release record names this endpoint", True))
        elif served[name] != config:
            findings.append(Finding("endpoint", name, f"serves {config}; its release record says {served[name]}", True))
    kept_configs = {record["endpoint_config_name"] for record in kept} | in_use_configs
    kept_models = {record["model_name"] for record in kept}
    for name in sorted(kept_configs & set(configs)):
        variants = sagemaker.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"]
        kept_models |= {variant["ModelName"] for variant in variants}
    why = "no release record or endpoint uses it (no charge; clutter)"
    findings += [Finding("endpoint-config", name, why, False) for name in configs if name not in kept_configs]
    findings += [Finding("model", name, why, False) for name in models if name not in kept_models]
    return findings


def _idle(cloudwatch: Any, endpoints: dict, settings: Settings, now: datetime) -> list[Finding]:
    window = timedelta(days=settings.idle_days)
    findings = []
    for name, endpoint in endpoints.items():
        if endpoint.get("EndpointStatus") != "InService" or now - endpoint["CreationTime"] < window:
            continue
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName="Invocations",
            Dimensions=[{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": VARIANT}],
            StartTime=now - window,
            EndTime=now,
            Period=86400,
            Statistics=["Sum"],
        )["Datapoints"]
        if sum(point["Sum"] for point in points) == 0:
            reason = f"zero invocations in {settings.idle_days} days while in service"
            findings.append(Finding("idle-endpoint", name, reason, True))
    return findings


# ---------------------------------------------------------------------------------------------- jobs, MLflow
def _tagged(tagging: Any, types: list[str], filters: list[dict]) -> Iterator[dict]:
    for page in tagging.get_paginator("get_resources").paginate(ResourceTypeFilters=types, TagFilters=filters):
        yield from page["ResourceTagMappingList"]


def _running_jobs(clients: Clients, settings: Settings) -> list[Finding]:
    """Jobs of this environment's pipeline still in progress while their pipeline execution is over."""
    pipeline_arn_part = f":pipeline/{settings.pipeline_name.lower()}/execution/"
    types = ["sagemaker:training-job", "sagemaker:processing-job"]
    execution_of = {}
    for resource in _tagged(clients.tagging, types, [{"Key": PIPELINE_EXECUTION_TAG}]):
        tags = {tag["Key"]: tag["Value"] for tag in resource["Tags"]}
        if pipeline_arn_part in tags[PIPELINE_EXECUTION_TAG].lower():
            execution_of[resource["ResourceARN"]] = tags[PIPELINE_EXECUTION_TAG]
    if not execution_of:
        return []
    executions = clients.sagemaker.get_paginator("list_pipeline_executions").paginate(
        PipelineName=settings.pipeline_name
    )
    running = {
        e["PipelineExecutionArn"]
        for page in executions
        for e in page["PipelineExecutionSummaries"]
        if e["PipelineExecutionStatus"] in RUNNING
    }
    findings = []
    for operation, key, kind in (
        ("list_training_jobs", "TrainingJobSummaries", "TrainingJob"),
        ("list_processing_jobs", "ProcessingJobSummaries", "ProcessingJob"),
    ):
        for page in clients.sagemaker.get_paginator(operation).paginate(StatusEquals="InProgress"):
            for job in page[key]:
                execution = execution_of.get(job[f"{kind}Arn"])
                if execution and execution not in running:
                    reason = f"still running; its pipeline execution {execution.rsplit('/', 1)[-1]} is over"
                    findings.append(Finding("job", job[f"{kind}Name"], reason, True))
    return findings


def _mlflow(sagemaker: Any, settings: Settings) -> list[Finding]:
    findings = []
    for page in sagemaker.get_paginator("list_mlflow_tracking_servers").paginate():
        for server in page["TrackingServerSummaries"]:
            name = server["TrackingServerName"]
            if name.startswith(settings.name_prefix) and name not in settings.expected_mlflow_servers:
                reason = "tracking server the configuration does not deploy (billed per hour while it exists)"
                findings.append(Finding("mlflow", name, reason, True))
    if not settings.mlflow_apps_expected:
        for app in sagemaker.list_mlflow_apps().get("Summaries", []):
            if app["Name"].startswith(settings.name_prefix):
                findings.append(Finding("mlflow", app["Name"], "MLflow app while tracking is not 'app'", False))
    return findings


# ---------------------------------------------------------------------------------------------- hygiene
def _missing_tags(clients: Clients, settings: Settings, runtime: dict[str, dict]) -> list[Finding]:
    """Project resources of this environment (or without an env tag) missing a mandatory tag; the runtime SageMaker
    resources are checked by their own tags, so one created without the project tag is found too."""
    tagged = {}
    for resource in _tagged(clients.tagging, [], [{"Key": "project", "Values": [settings.project]}]):
        tagged[resource["ResourceARN"]] = {tag["Key"]: tag["Value"] for tag in resource["Tags"]}
    for item in runtime.values():
        tags = clients.sagemaker.list_tags(ResourceArn=item["arn"]).get("Tags", [])
        tagged[item["arn"]] = {tag["Key"]: tag["Value"] for tag in tags}
    findings = []
    for arn, tags in sorted(tagged.items()):
        if tags.get("env", settings.environment) != settings.environment:
            continue
        missing = [key for key in settings.mandatory_tags if not tags.get(key)]
        if missing:
            findings.append(Finding("tags", arn, f"missing mandatory tag(s): {', '.join(missing)}", False))
    return findings


def _log_retention(logs: Any, settings: Settings) -> list[Finding]:
    findings = []
    for name in settings.job_log_groups:
        groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        for group in (g for g in groups if g["logGroupName"] == name):
            days = group.get("retentionInDays")
            if days is None or days < settings.log_retention_days:
                kept = "forever" if days is None else f"{days} days"
                reason = f"keeps job logs {kept}; set at least {settings.log_retention_days} days (runbook)"
                findings.append(Finding("log-retention", name, reason, days is None))
    return findings
