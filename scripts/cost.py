#!/usr/bin/env python3
"""Phase 07: a monthly cost estimate of one environment, from its synthesized templates and its configuration.

    python scripts/cost.py --env dev [cdk.out]        (make cost ENV=dev: synthesizes first)

Every resource of the environment's templates that costs money at rest is priced from the dated table of its region
(config/prices/<region>.toml; refused when older than `[cost] price_table_max_age_days`), plus what the templates do
not hold: the endpoints the promotion workflow creates at run time (priced from `[serving]`, with the sleep rules of
`[cost]`) and the jobs of a training-pipeline run (instance types and counts from the synthesized definition).
It prints a table and three totals; the last line is `idle: $X.XX/month`, a month with no release and no traffic
(the last release still deployed, the sleep rules applied, scheduled jobs still running). Offline.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import ConfigError, EnvironmentConfig, load_environment
from config.cost import WEEKS_PER_MONTH, working_day_set
from config.paths import PROJECT_ROOT

PRICES_DIR = PROJECT_ROOT / "config" / "prices"
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = 365.25 / 12
ASSUMED_JOB_MINUTES = 10  # one pipeline job, billed (the local flow takes seconds; SageMaker adds image download)
ASSUMED_STORED_GB = 1.0  # seed data, code bundles and some model artifacts across the environment's buckets
ORPHAN_REPORT_SECONDS, ORPHAN_REPORT_GB = 60, 0.25  # one weekly run of the orphan report Lambda, at most
SLEEPER_SECONDS, SLEEPER_GB = 5, 0.25  # one run of the endpoint sleeper (a few describe calls), at most
FIELDS = ("usd", "unit", "as_of", "basis", "source")
BASES = ("page", "bill", "report", "derived", "list")


class PriceTableError(Exception):
    pass


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    as_of: date
    basis: str
    source: str
    note: str = ""


def load_prices(region: str, today: date, max_age_days: int, folder: Path = PRICES_DIR) -> dict[str, Price]:
    """The region's table; every price must say where it comes from and be at most `max_age_days` old."""
    path = folder / f"{region}.toml"
    if not path.is_file():
        raise PriceTableError(f"no price table for {region}: add {path.relative_to(folder.parent.parent)}")
    table = tomllib.loads(path.read_text())
    prices = {}
    for key, entry in table.get("price", {}).items():
        missing = [name for name in FIELDS if name not in entry]
        if missing or entry["basis"] not in BASES or not str(entry["source"]).startswith("https://"):
            raise PriceTableError(
                f"{path.name}: {key} needs {', '.join(FIELDS)} (basis one of {BASES}, an https source)"
            )
        as_of = date.fromisoformat(str(entry["as_of"]))
        if (today - as_of).days > max_age_days:
            raise PriceTableError(
                f"{path.name}: {key} was checked on {as_of}, more than {max_age_days} days ago: re-check the prices "
                "on their sources and update as_of ([cost] price_table_max_age_days)"
            )
        prices[key] = Price(
            float(entry["usd"]), entry["unit"], as_of, entry["basis"], entry["source"], entry.get("note", "")
        )
    return prices


@dataclass
class Line:
    resource: str
    what: str
    always_on: float
    idle: float


@dataclass
class Estimate:
    lines: list[Line]
    pipeline_run: float
    pipeline_detail: str
    working_hours_month: float | None

    @property
    def always_on(self) -> float:
        return sum(line.always_on for line in self.lines)

    @property
    def idle(self) -> float:
        return sum(line.idle for line in self.lines)


def templates_of(outdir: Path, env: str) -> dict[str, dict]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    found = {}
    for name, artifact in sorted(manifest.get("artifacts", {}).items()):
        if artifact.get("type") == "aws:cloudformation:stack" and name.startswith(f"titanic-{env}-"):
            found[name] = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
    if not found:
        raise PriceTableError(f"no titanic-{env}-* stack in {outdir}: run make synth")
    return found


def _resources(templates: dict[str, dict], kind: str) -> list[tuple[str, str, dict]]:
    return [
        (stack, logical_id, resource.get("Properties", {}))
        for stack, template in templates.items()
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == kind
    ]


def _alarm_metrics(properties: dict) -> int:
    """CloudWatch bills an alarm per metric it evaluates."""
    return sum("MetricStat" in item for item in properties["Metrics"]) if "Metrics" in properties else 1


def fixed_lines(templates: dict[str, dict], prices: dict[str, Price]) -> list[Line]:
    """What the templates hold that is billed every month whatever happens."""
    lines = []
    for stack in templates:
        one = {name: t for name, t in templates.items() if name == stack}
        alarms = _resources(one, "AWS::CloudWatch::Alarm")
        if alarms:
            metrics = sum(_alarm_metrics(properties) for _, _, properties in alarms)
            usd = metrics * prices["cloudwatch.alarm-metric"].usd
            lines.append(Line(stack, f"{len(alarms)} alarms ({metrics} alarm metrics)", usd, usd))
    per_unit = {
        "AWS::KMS::Key": ("kms.key", 1, "KMS key"),
        "AWS::CloudWatch::CompositeAlarm": ("cloudwatch.composite-alarm", 1, "composite alarm"),
        "AWS::CloudWatch::Dashboard": ("cloudwatch.dashboard", 1, "dashboard"),
        "AWS::Budgets::Budget": ("budgets.budget-day", DAYS_PER_MONTH, "budget"),
    }
    for kind, (key, quantity, what) in per_unit.items():
        for stack, logical_id, _ in _resources(templates, kind):
            usd = quantity * prices[key].usd
            lines.append(Line(f"{stack}/{logical_id}", what, usd, usd))
    for stack, logical_id, properties in _resources(templates, "AWS::SageMaker::MlflowTrackingServer"):
        size = properties.get("TrackingServerSize", "Small")
        usd = HOURS_PER_MONTH * prices[f"sagemaker.mlflow.tracking-server.{size}"].usd
        lines.append(Line(f"{stack}/{logical_id}", f"MLflow tracking server {size}, {HOURS_PER_MONTH} h", usd, usd))
    for stack, logical_id, _ in _resources(templates, "AWS::SageMaker::MlflowApp"):
        lines.append(Line(f"{stack}/{logical_id}", "MLflow app (no charge while idle)", 0.0, 0.0))
    buckets = _resources(templates, "AWS::S3::Bucket")
    usd = ASSUMED_STORED_GB * prices["s3.standard"].usd
    lines.append(Line("S3", f"{len(buckets)} buckets, {ASSUMED_STORED_GB:g} GB stored (assumed)", usd, usd))
    logs = _resources(templates, "AWS::Logs::LogGroup")
    lines.append(Line("CloudWatch Logs", f"{len(logs)} log groups: per GB written, none when idle", 0.0, 0.0))
    return lines


def endpoint_lines(config: EnvironmentConfig, prices: dict[str, Price]) -> tuple[list[Line], float | None]:
    """The stage endpoints (created by releases, not by the templates): always-on around the clock; idle with the
    sleep rules (asleep all month: nobody woke them); and the month awake in working hours, when they sleep."""
    cost, lines, working = config.cost, [], 0.0
    for stage in ("staging", "prod"):
        settings = getattr(config.serving, stage)
        hourly = settings.instance_count * prices[f"sagemaker.hosting.{settings.instance_type}"].usd
        idle = 0.0 if cost.endpoints_sleep else HOURS_PER_MONTH * hourly
        what = f"{settings.instance_count} x {settings.instance_type}, " + (
            "asleep when idle" if cost.endpoints_sleep else f"{HOURS_PER_MONTH} h"
        )
        lines.append(Line(f"endpoint {config.names.endpoint(stage)}", what, HOURS_PER_MONTH * hourly, idle))
        working += cost.working_hours_per_month * hourly if cost.endpoints_sleep else HOURS_PER_MONTH * hourly
    return lines, (working if cost.endpoints_sleep else None)


def _job_steps(definition: dict) -> list[tuple[str, str, str, int]]:
    """(step, kind, instance type, count) of each Processing and Training step, parameters at their defaults."""
    defaults = {f"Parameters.{p['Name']}": p.get("DefaultValue") for p in definition.get("Parameters", [])}

    def value(item):
        return defaults[item["Get"]] if isinstance(item, dict) and "Get" in item else item

    jobs = []
    for step in definition["Steps"]:
        arguments = step.get("Arguments", {})
        if step["Type"] == "Processing":
            kind, resources = "processing", arguments["ProcessingResources"]["ClusterConfig"]
        elif step["Type"] == "Training":
            kind, resources = "training", arguments["ResourceConfig"]
        else:
            continue
        jobs.append((step["Name"], kind, value(resources["InstanceType"]), int(value(resources["InstanceCount"]))))
    return jobs


def pipeline_run(templates: dict[str, dict], prices: dict[str, Price]) -> tuple[float, str]:
    """One run of the training pipeline: each job step's instances for ASSUMED_JOB_MINUTES."""
    total, described = 0.0, []
    for _, _, properties in _resources(templates, "AWS::SageMaker::Pipeline"):
        body = properties["PipelineDefinition"]["PipelineDefinitionBody"]
        text = body["Fn::Sub"][0] if isinstance(body["Fn::Sub"], list) else body["Fn::Sub"]
        for step, kind, instance, count in _job_steps(json.loads(text)):
            total += count * ASSUMED_JOB_MINUTES / 60 * prices[f"sagemaker.{kind}.{instance}"].usd
            described.append(f"{step} {count} x {instance}")
    return total, f"{', '.join(described)}; {ASSUMED_JOB_MINUTES} min each (assumed)"


def runs_per_month(schedule: str) -> float:
    """Runs a month of a weekly-style EventBridge cron (`cron(m h ? * DAYS *)`); daily otherwise."""
    fields = re.match(r"^cron\((.*)\)$", schedule)[1].split()
    return (
        len(working_day_set(fields[4])) * WEEKS_PER_MONTH if fields[2] == "?" and fields[4] != "*" else DAYS_PER_MONTH
    )


def estimate(config: EnvironmentConfig, templates: dict[str, dict], prices: dict[str, Price]) -> Estimate:
    lines = fixed_lines(templates, prices)
    endpoints, working = endpoint_lines(config, prices)
    run, detail = pipeline_run(templates, prices)
    orchestration = config.orchestration
    if orchestration.retrain_schedule_enabled:
        runs = runs_per_month(orchestration.retrain_schedule)
        what = f"{runs:.2f} pipeline runs ({orchestration.retrain_schedule})"
        lines.append(Line("scheduled retraining", what, runs * run, runs * run))  # traffic or not, it runs
    weekly = WEEKS_PER_MONTH * (
        ORPHAN_REPORT_SECONDS * ORPHAN_REPORT_GB * prices["lambda.arm.gb-second"].usd + prices["lambda.request"].usd
    )
    lines.append(Line(config.names.orphan_report_function, "weekly run, 60 s at 256 MB", weekly, weekly))
    if config.cost.endpoints_sleep:  # the hourly idle check and the after-hours run (stacks/endpoint_sleep.py)
        runs = 25 * DAYS_PER_MONTH
        sleeper = runs * (
            SLEEPER_SECONDS * SLEEPER_GB * prices["lambda.arm.gb-second"].usd + prices["lambda.request"].usd
        )
        what = f"{runs:.0f} runs, {SLEEPER_SECONDS} s at 256 MB"
        lines.append(Line(config.names.endpoint_sleeper_function, what, sleeper, sleeper))
    lines += endpoints
    fixed = sum(line.idle for line in lines if not line.resource.startswith("endpoint "))
    return Estimate(lines, run, detail, None if working is None else working + fixed)


def render(config: EnvironmentConfig, result: Estimate, say=print) -> None:
    rows = [("resource", "what", "always-on $/month", "idle $/month")]
    rows += [(line.resource, line.what, f"{line.always_on:.2f}", f"{line.idle:.2f}") for line in result.lines]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for index, row in enumerate(rows):
        say("  ".join(cell.rjust(w) if i >= 2 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))))
        if index == 0:
            say("  ".join("-" * w for w in widths))
    say("")
    if result.working_hours_month is not None:
        hours = f"{config.cost.working_days} {config.cost.working_hours} {config.cost.timezone}"
        say(f"(a month with the endpoints awake in working hours, {hours}: ${result.working_hours_month:.2f})")
    say(f"always-on: ${result.always_on:.2f}/month")
    say(f"one training-pipeline run: ${result.pipeline_run:.2f} ({result.pipeline_detail})")
    say(f"idle: ${result.idle:.2f}/month")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("outdir", nargs="?", default="cdk.out", type=Path)
    args = parser.parse_args(argv)
    try:
        config = load_environment(args.env)
        prices = load_prices(config.region, date.today(), config.cost.price_table_max_age_days)
        result = estimate(config, templates_of(args.outdir, config.name), prices)
    except (ConfigError, PriceTableError) as error:
        print(f"cost: {error}", file=sys.stderr)
        return 2
    print(f"monthly estimate of {config.prefix} ({config.region}, prices of config/prices/{config.region}.toml)\n")
    render(config, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
