#!/usr/bin/env python3
"""Phase 07: the orphan report of one environment, now, from the operator's machine (needs AWS credentials).

    python scripts/orphans.py --env dev [--json]

The same report the weekly Lambda mails (lambdas/orphan_report/orphans.py, one module for both), built from the
environment's configuration instead of the Lambda's variables. It only reads: deleting stays a human decision
(`make cleanup`). Exit 0 with or without findings (it is a report), 2 on a configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import ConfigError, EnvironmentConfig, load_environment
from config.names import PROJECT
from config.resource_names import SAGEMAKER_JOB_LOG_GROUPS
from lambdas.orphan_report.orphans import Clients, Report, Settings, find


def settings_for(config: EnvironmentConfig) -> Settings:
    """What the observability stack passes the Lambda (stacks/cost_governance.py), from the same configuration."""
    names = config.names
    return Settings(
        environment=config.name,
        project=PROJECT,
        name_prefix=f"{names.prefix}-",
        releases_table=names.releases_table,
        pipeline_name=names.pipeline,
        expected_mlflow_servers=(names.mlflow_tracking_server,) if config.mlflow.tracking == "server" else (),
        mlflow_apps_expected=config.mlflow.tracking == "app",
        mandatory_tags=tuple(config.mandatory_tags),
        idle_days=config.cost.orphan_idle_days,
        job_log_groups=SAGEMAKER_JOB_LOG_GROUPS,
        log_retention_days=config.log_retention_days,
    )


def clients_for(config: EnvironmentConfig) -> Clients:
    def client(service: str):
        return boto3.client(service, region_name=config.region)

    return Clients(
        sagemaker=client("sagemaker"),
        dynamodb=client("dynamodb"),
        cloudwatch=client("cloudwatch"),
        tagging=client("resourcegroupstaggingapi"),
        logs=client("logs"),
    )


def render(report: Report, say=print) -> None:
    if not report.findings:
        say(f"no orphans in {report.environment}")
    else:
        for line in report.lines():
            say(line)
        count = len(report.findings)
        say(f"{count} finding(s); nothing was deleted (review, then make cleanup ENV={report.environment})")
    if not report.findings:
        for note in report.notes:
            say(f"note: {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    args = parser.parse_args(argv)
    try:
        config = load_environment(args.env)
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    report = find(clients_for(config), settings_for(config))
    if args.json:
        print(json.dumps({"findings": [f.__dict__ for f in report.findings], "notes": report.notes}, indent=2))
    else:
        render(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
