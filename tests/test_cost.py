"""scripts/cost.py (make cost): the dated price table, and the estimate from the session's synthesized templates."""

from __future__ import annotations

from datetime import date, timedelta

import cost
import pytest

from config import load_all_environments, load_environment

CONFIGS = {config.name: config for config in load_all_environments()}


@pytest.mark.parametrize("config", CONFIGS.values(), ids=lambda config: config.name)
def test_the_price_table_of_each_region_is_dated_sourced_and_younger_than_the_configured_age(config):
    prices = cost.load_prices(config.region, date.today(), config.cost.price_table_max_age_days)
    assert all(price.source.startswith("https://") and price.as_of <= date.today() for price in prices.values())
    for stage in ("staging", "prod"):
        assert f"sagemaker.hosting.{getattr(config.serving, stage).instance_type}" in prices


def test_a_stale_or_unsourced_price_is_refused(tmp_path):
    (tmp_path / "eu-west-1.toml").write_text(
        '[price."kms.key"]\nusd = 1.0\nunit = "key-month"\nas_of = "2026-01-01"\nbasis = "list"\n'
        'source = "https://aws.amazon.com/kms/pricing/"\n'
    )
    assert cost.load_prices("eu-west-1", date(2026, 6, 30), 180, tmp_path)["kms.key"].usd == 1.0  # 180 days old
    with pytest.raises(cost.PriceTableError, match="checked on 2026-01-01, more than 180 days ago"):
        cost.load_prices("eu-west-1", date(2026, 7, 1), 180, tmp_path)
    (tmp_path / "eu-west-1.toml").write_text('[price."kms.key"]\nusd = 1.0\nunit = "key-month"\nas_of = "2026-01-01"\n')
    with pytest.raises(cost.PriceTableError, match="needs usd, unit, as_of, basis, source"):
        cost.load_prices("eu-west-1", date(2026, 1, 2), 180, tmp_path)
    with pytest.raises(cost.PriceTableError, match="no price table for us-east-2"):
        cost.load_prices("us-east-2", date(2026, 1, 2), 180, tmp_path)


def _estimate(synthesis, config):
    prices = cost.load_prices(config.region, date.today(), config.cost.price_table_max_age_days)
    return cost.estimate(config, cost.templates_of(synthesis.outdir, config.name), prices)


def test_make_cost_ends_with_the_idle_line_and_dev_idles_under_ten_dollars(synthesis, capsys):
    assert cost.main(["--env", "dev", str(synthesis.outdir)]) == 0
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert lines[-3].startswith("always-on: $") and lines[-2].startswith("one training-pipeline run: $")
    assert lines[-1].startswith("idle: $") and lines[-1].endswith("/month")
    assert float(lines[-1].removeprefix("idle: $").removesuffix("/month")) <= 10.0
    assert _estimate(synthesis, CONFIGS["dev"]).idle <= 10.0


def test_sleeping_endpoints_cost_nothing_idle_and_awake_ones_run_all_month(synthesis):
    dev, prod = (_estimate(synthesis, CONFIGS[name]) for name in ("dev", "prod"))
    dev_endpoints = [line for line in dev.lines if line.resource.startswith("endpoint ")]
    assert [line.idle for line in dev_endpoints] == [0.0, 0.0] and all(line.always_on > 40 for line in dev_endpoints)
    assert dev.working_hours_month is not None and dev.idle < dev.working_hours_month < dev.always_on
    prod_endpoint = next(line for line in prod.lines if line.resource == "endpoint titanic-prod-prod")
    assert prod_endpoint.idle == prod_endpoint.always_on == pytest.approx(730 * 2 * 0.128)
    assert prod.working_hours_month is None  # prod's endpoints never sleep


def test_every_alarm_metric_and_the_pipeline_jobs_are_priced_from_the_templates(synthesis):
    templates = cost.templates_of(synthesis.outdir, "dev")
    alarms = [r for t in templates.values() for r in t["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    metrics = sum(cost._alarm_metrics(alarm["Properties"]) for alarm in alarms)
    lines = _estimate(synthesis, CONFIGS["dev"]).lines
    priced = sum(int(line.what.split("(")[1].split()[0]) for line in lines if "alarm metrics" in line.what)
    assert priced == metrics > len(alarms)  # the executions-failed alarms evaluate three metrics each
    run = _estimate(synthesis, CONFIGS["dev"])
    assert run.pipeline_run == pytest.approx(3 * cost.ASSUMED_JOB_MINUTES / 60 * 0.128)
    assert "TrainModel 1 x ml.m5.large" in run.pipeline_detail


def test_the_mlflow_choice_of_the_config_is_what_is_priced(synthesis):
    for config in CONFIGS.values():
        (app,) = [line for line in _estimate(synthesis, config).lines if "MLflow" in line.what]
        assert config.mlflow.tracking == "app" and app.what.startswith("MLflow app") and app.idle == app.always_on == 0
    # A tracking server (tracking = "server") is billed every hour it exists, used or not.
    prices = cost.load_prices("eu-west-1", date.today(), CONFIGS["prod"].cost.price_table_max_age_days)
    server = {"Resources": {"Mlflow": {"Type": "AWS::SageMaker::MlflowTrackingServer", "Properties": {}}}}
    (line,) = [line for line in cost.fixed_lines({"titanic-prod-training": server}, prices) if "MLflow" in line.what]
    assert line.idle == line.always_on == pytest.approx(730 * 0.642)


def test_scheduled_retraining_counts_in_idle_and_a_weekly_cron_runs_about_four_times_a_month(synthesis):
    assert cost.runs_per_month("cron(0 5 ? * MON *)") == pytest.approx(4.348, abs=0.001)
    assert cost.runs_per_month("cron(0 5 ? * MON-FRI *)") == pytest.approx(21.74, abs=0.01)
    assert cost.runs_per_month("cron(0 5 * * ? *)") == pytest.approx(30.44, abs=0.01)
    prod = _estimate(synthesis, CONFIGS["prod"])
    (scheduled,) = [line for line in prod.lines if line.resource == "scheduled retraining"]
    assert scheduled.idle == scheduled.always_on == pytest.approx(4.348 * prod.pipeline_run, rel=0.001)
    dev = _estimate(synthesis, CONFIGS["dev"])
    assert not load_environment("dev").orchestration.retrain_schedule_enabled
    assert all(line.resource != "scheduled retraining" for line in dev.lines)


def test_the_table_is_checked_against_today_not_a_fixed_date():
    config = CONFIGS["dev"]
    later = date.today() + timedelta(days=config.cost.price_table_max_age_days + 1)
    with pytest.raises(cost.PriceTableError, match="re-check the prices"):
        cost.load_prices(config.region, later, config.cost.price_table_max_age_days)
