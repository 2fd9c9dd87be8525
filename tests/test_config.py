"""Environment settings: valid files load; bad ones fail before synth, naming the environment and the field."""

from __future__ import annotations

import pytest

from config import (
    ConfigError,
    available_environments,
    load_all_environments,
    load_environment,
    select_environments,
    settings,
)


def test_at_least_dev_and_prod_exist_and_load():
    assert {"dev", "prod"} <= set(available_environments())
    for name in available_environments():
        config = load_environment(name)
        assert config.name == name
        assert config.mandatory_tags["project"] == "titanic-sagemaker"
        assert config.mandatory_tags["managed_by"] == "cdk"


def test_unknown_environment_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"Unknown environment 'qa'\. Valid environments: dev, prod"):
        load_environment("qa")


@pytest.fixture
def environments_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "ENVIRONMENTS_DIR", tmp_path)
    return tmp_path


VALID = (settings.ENVIRONMENTS_DIR / "dev.toml").read_text()


@pytest.mark.parametrize(
    ("replace", "by", "field", "reason"),
    [
        (
            'alert_email = "ml-platform-alerts@example.com"',
            'alert_email = "not-an-email"',
            "alert_email",
            "should match",
        ),
        ("log_retention_days = 30", "log_retention_days = 31", "log_retention_days", "must be one of"),
        (
            'data_removal_policy = "destroy"',
            'data_removal_policy = "keep"',
            "data_removal_policy",
            "'retain' or 'destroy'",
        ),
        ('region = "eu-west-1"', 'region = "europe"', "region", "should match"),
        ("quality_threshold = 0.78", "quality_threshold = 1.5", "ml.quality_threshold", "less than or equal to 1"),
        ("baseline_margin = 0.02", "baseline_margin = -0.01", "ml.baseline_margin", "greater than or equal to 0"),
        ("baseline_margin = 0.02\n", "", "ml.baseline_margin", "is required but missing"),
        ("champion_tolerance = 0.01", "champion_tolerance = 0.6", "ml.champion_tolerance", "less than or equal to 0.5"),
        ("champion_tolerance = 0.01", 'champion_tolerance = "a bit"', "ml.champion_tolerance", "valid number"),
        ('owner = "ml-platform-team"\n', "", "owner", "is required but missing"),
        ('owner = "ml-platform-team"', 'owner = "x"\nowners = "typo"', "owners", "not a known setting"),
        ('region = "eu-west-1"', 'region = "eu-west-1"\naccount = "12345"', "account", "should match"),
        ("raw_expiration_days = 90", "raw_expiration_days = 0", "data.raw_expiration_days", "greater than or equal"),
        ("max_object_mb = 25", "max_object_mb = 64", "data", "at least 32 x max_object_mb"),
        (
            "validation_timeout_seconds = 120",
            "validation_timeout_seconds = 901",
            "data.validation_timeout_seconds",
            "900",
        ),
        ("[data]\n", "[data]\nlifecycle_days = 3\n", "data.lifecycle_days", "not a known setting"),
    ],
)
def test_bad_values_name_the_environment_and_the_field(environments_dir, replace, by, field, reason):
    assert replace in VALID
    (environments_dir / "staging.toml").write_text(VALID.replace(replace, by))
    with pytest.raises(ConfigError) as error:
        load_environment("staging")
    message = str(error.value)
    assert "environment 'staging'" in message
    assert f"field '{field}'" in message
    assert reason in message


def test_broken_toml_names_the_environment(environments_dir):
    (environments_dir / "staging.toml").write_text("owner = ")
    with pytest.raises(ConfigError, match=r"Environment .staging.*not valid TOML"):
        load_environment("staging")


def test_selection_prefers_context_then_env_variable_then_all(monkeypatch):
    monkeypatch.setenv("ENV", "prod")
    assert [c.name for c in select_environments("dev")] == ["dev"]
    assert [c.name for c in select_environments(None)] == ["prod"]
    monkeypatch.delenv("ENV")
    assert [c.name for c in select_environments(None)] == available_environments()


def test_quality_metric_choices_are_the_metrics_evaluation_writes():
    from typing import get_args

    from config.sections import MlSettings
    from ml.contracts import QUALITY_METRICS

    assert get_args(MlSettings.model_fields["quality_metric"].annotation) == QUALITY_METRICS


def test_data_settings_reach_every_environment_and_prod_keeps_data_longer():
    dev, prod = load_environment("dev"), load_environment("prod")
    assert dev.data_removal_policy == "destroy" and prod.data_removal_policy == "retain"
    for field in ("raw_expiration_days", "curated_expiration_days", "quarantine_expiration_days"):
        assert getattr(prod.data, field) >= getattr(dev.data, field), field
    for config in (dev, prod):
        assert config.data.validation_memory_mb >= 32 * config.data.max_object_mb


# ---------------------------------------------------------------------------------------------- training (phase 03)
@pytest.mark.parametrize(
    ("replace", "by", "field", "reason"),
    [
        (
            'training_instance_type = "ml.m5.large"',
            'training_instance_type = "m5.large"',
            "training.training_instance_type",
            "should match",
        ),
        (
            "processing_instance_count = 1",
            "processing_instance_count = 0",
            "training.processing_instance_count",
            "greater than or equal to 1",
        ),
        (
            "preprocess_seed = 42",
            'preprocess_seed = 42\nprod_account_id = "prod"',
            "training.prod_account_id",
            "should match",
        ),
    ],
)
def test_bad_training_values_name_the_field(environments_dir, replace, by, field, reason):
    assert replace in VALID
    (environments_dir / "staging.toml").write_text(VALID.replace(replace, by))
    with pytest.raises(ConfigError) as error:
        load_environment("staging")
    assert "environment 'staging'" in str(error.value)
    assert f"field '{field}'" in str(error.value)
    assert reason in str(error.value)


# ---------------------------------------------------------------------------------------------- MLflow (seed 004)
@pytest.mark.parametrize(
    ("replace", "by", "where", "reason"),
    [
        ('tracking = "app"', 'tracking = "hosted"', "field 'mlflow.tracking'", "'app', 'server' or 'none'"),
        ('tracking = "app"\n', "", "field 'mlflow.tracking'", "is required but missing"),
        (
            "deleted_run_retention_days = 7",
            "deleted_run_retention_days = 0",
            "field 'mlflow.deleted_run_retention_days'",
            "greater than or equal to 1",
        ),
        (
            "artifact_noncurrent_days = 7",
            "artifact_noncurrent_days = 4000",
            "field 'mlflow.artifact_noncurrent_days'",
            "less than or equal to 3650",
        ),
        (
            "audit_log_retention_days = 90",
            "audit_log_retention_days = 100",
            "field 'mlflow.audit_log_retention_days'",
            "the values CloudWatch Logs accepts",
        ),
        ('tracking = "app"', 'tracking = "app"\nserver_size = "Large"', "field 'mlflow'", "applies only to"),
        (
            "artifact_noncurrent_days = 7",
            "artifact_noncurrent_days = 60",
            "the file",
            "must not exceed storage.noncurrent_version_expiration_days (30)",
        ),
        ("[mlflow]\n", "[mlflow]\nkeep_forever = true\n", "field 'mlflow.keep_forever'", "not a known setting"),
        (
            "preprocess_seed = 42",
            "preprocess_seed = 42\nmlflow_tracking_server = true",
            "the file",
            "training.mlflow_tracking_server moved to [mlflow]",
        ),
    ],
)
def test_bad_mlflow_values_name_the_environment_and_the_field(environments_dir, replace, by, where, reason):
    assert replace in VALID
    (environments_dir / "staging.toml").write_text(VALID.replace(replace, by, 1))
    with pytest.raises(ConfigError) as error:
        load_environment("staging")
    message = str(error.value)
    assert "environment 'staging'" in message
    assert where in message
    assert reason in message


def test_a_missing_mlflow_section_is_named(environments_dir):
    start = VALID.index("[mlflow]")
    (environments_dir / "staging.toml").write_text(VALID[:start] + VALID[VALID.index("[serving]") :])
    with pytest.raises(ConfigError, match=r"field 'mlflow': is required but missing"):
        load_environment("staging")


def test_prod_must_track_its_runs(environments_dir):
    assert 'tracking = "app"' in PROD
    (environments_dir / "prod.toml").write_text(PROD.replace('tracking = "app"', 'tracking = "none"'))
    with pytest.raises(ConfigError, match=r"mlflow.tracking must be 'app' or 'server' in the prod environment"):
        load_environment("prod")


def test_every_environment_tracks_its_runs_in_an_app_billed_only_for_storage():
    for config in (load_environment("dev"), load_environment("prod")):
        assert config.mlflow.tracking == "app"
        assert config.training.mlflow_tracking_server is False  # nothing hourly-billed is built for an app


def test_a_tracking_server_is_derived_for_the_training_settings(environments_dir):
    server = VALID.replace('tracking = "app"', 'tracking = "server"\nserver_size = "Medium"')
    (environments_dir / "staging.toml").write_text(server)
    config = load_environment("staging")
    assert (config.mlflow.tracking, config.training.mlflow_tracking_server) == ("server", True)
    assert config.training.mlflow_tracking_server_size == "Medium"


def test_prod_keeps_mlflow_history_at_least_as_long_as_dev():
    dev, prod = load_environment("dev").mlflow, load_environment("prod").mlflow
    for field in ("deleted_run_retention_days", "artifact_noncurrent_days", "audit_log_retention_days"):
        assert getattr(prod, field) >= getattr(dev, field), field


# ---------------------------------------------------------------------------------------------- serving / orchestration
PROD = (settings.ENVIRONMENTS_DIR / "prod.toml").read_text()


@pytest.mark.parametrize(
    ("text", "replace", "by", "field", "reason"),
    [
        (VALID, "latency_budget_ms = 2000", "latency_budget_ms = 0", "serving.latency_budget_ms", "greater than"),
        (VALID, "data_capture_percent = 100", "data_capture_percent = 101", "serving.data_capture_percent", "less"),
        (
            VALID,
            'instance_type = "ml.t2.medium"',
            'instance_type = "t2.medium"',
            "serving.staging.instance_type",
            "match",
        ),
        (
            VALID,
            'retrain_schedule = "cron(0 6 ? * MON *)"',
            'retrain_schedule = "rate(1 day)"',
            "orchestration.retrain_schedule",
            "match",
        ),
        (
            VALID,
            "approval_timeout_hours = 24",
            "approval_timeout_hours = 0",
            "orchestration.approval_timeout_hours",
            "greater",
        ),
        (VALID, "max_instances = 2", "max_instances = 0", "serving.prod.max_instances", "greater"),
        (
            PROD,
            'traffic_routing = "CANARY"',
            'traffic_routing = "BIG_BANG"',
            "serving.prod.traffic_routing",
            "ALL_AT_ONCE",
        ),
        (
            PROD,
            "max_instances = 4",
            "max_instances = 1",
            "serving.prod",
            "max_instances must be at least instance_count",
        ),
    ],
)
def test_bad_serving_and_orchestration_values_name_the_field(environments_dir, text, replace, by, field, reason):
    assert replace in text
    (environments_dir / "staging.toml").write_text(text.replace(replace, by, 1))
    with pytest.raises(ConfigError) as error:
        load_environment("staging")
    assert f"field '{field}'" in str(error.value)
    assert reason in str(error.value)


def test_canary_needs_a_fleet_of_at_least_two(environments_dir):
    text = VALID.replace(
        'traffic_routing = "ALL_AT_ONCE"\ntraffic_step_percent = 50\nwait_interval_seconds = 0\n'
        "termination_wait_seconds = 300",
        'traffic_routing = "CANARY"\ntraffic_step_percent = 50\n'
        "wait_interval_seconds = 0\ntermination_wait_seconds = 300",
    )
    assert text != VALID
    (environments_dir / "staging.toml").write_text(text)
    with pytest.raises(ConfigError, match="need instance_count >= 2"):
        load_environment("staging")


def test_production_serves_from_at_least_two_instances(environments_dir):
    (environments_dir / "prod.toml").write_text(
        PROD.replace("instance_count = 2", "instance_count = 1").replace(
            'traffic_routing = "CANARY"', 'traffic_routing = "ALL_AT_ONCE"'
        )
    )
    with pytest.raises(ConfigError, match=r"serving.prod.instance_count must be >= 2 in the prod environment"):
        load_environment("prod")


def test_every_environment_has_a_serving_and_orchestration_section():
    for name in available_environments():
        config = load_environment(name)
        assert config.serving.prod.max_instances >= config.serving.prod.instance_count
        assert config.orchestration.retrain_schedule.startswith("cron(")


# ---------------------------------------------------------------------------------------------- monitoring (06)
@pytest.mark.parametrize(
    ("replace", "by", "field", "reason"),
    [
        ('schedule = "rate(1 hour)"', 'schedule = "every hour"', "monitoring.schedule", "should match"),
        ('schedule = "rate(1 hour)"', 'schedule = "rate(1 hours)"', "monitoring.schedule", "plural when n > 1"),
        ('schedule = "rate(1 hour)"', 'schedule = "rate(0 minutes)"', "monitoring.schedule", "n >= 1"),
        ('schedule = "rate(1 hour)"', 'schedule = "rate(2 days)"', "monitoring", "shorter than the schedule period"),
        ("capture_expiration_days = 3", "capture_expiration_days = 1", "monitoring", "one day past the window"),
        ("min_records = 100", "min_records = 20", "monitoring.min_records", "greater than or equal to 50"),
        ("significance = 0.01", "significance = 0.5", "monitoring.significance", "less than 0.5"),
        ("psi_threshold = 0.25", "psi_threshold = 0", "monitoring.psi_threshold", "greater than 0"),
        ("violation_rate_max = 0.05", "violation_rate_max = 1.5", "monitoring.violation_rate_max", "less than"),
        ("prediction_drift_alarms = false\n", "", "monitoring.prediction_drift_alarms", "is required but missing"),
        ("window_hours = 24", "window_hours = 24\nwindow_days = 1", "monitoring.window_days", "not a known setting"),
        ("check_memory_mb = 1024", "check_memory_mb = 128", "monitoring.check_memory_mb", "greater than or equal"),
        ("check_timeout_seconds = 300", "check_timeout_seconds = 901", "monitoring.check_timeout_seconds", "less"),
    ],
)
def test_bad_monitoring_values_name_the_field(environments_dir, replace, by, field, reason):
    assert replace in VALID
    (environments_dir / "staging.toml").write_text(VALID.replace(replace, by, 1))
    with pytest.raises(ConfigError) as error:
        load_environment("staging")
    assert f"field '{field}'" in str(error.value)
    assert reason in str(error.value)


def test_monitoring_reaches_every_environment_hourly_and_keeps_capture_briefly():
    from ml.drift import Thresholds

    for config in load_all_environments():
        monitoring = config.monitoring
        assert monitoring.schedule == "rate(1 hour)"
        assert monitoring.capture_expiration_days <= 7  # the capture holds names and tickets: kept only for the check
        assert Thresholds.from_settings(monitoring).min_records == monitoring.min_records
    assert load_environment("prod").monitoring.window_hours <= load_environment("dev").monitoring.window_hours


def test_the_schedule_period_is_known_for_rate_schedules_only():
    monitoring = load_environment("dev").monitoring
    assert monitoring.schedule_period_minutes == 60
    assert monitoring.model_copy(update={"schedule": "rate(30 minutes)"}).schedule_period_minutes == 30
    assert monitoring.model_copy(update={"schedule": "rate(2 days)"}).schedule_period_minutes == 2880
    assert monitoring.model_copy(update={"schedule": "cron(5 * * * ? *)"}).schedule_period_minutes is None


# ---------------------------------------------------------------------------------------------- cost (phase 07)
@pytest.mark.parametrize(
    ("replace", "by", "field", "reason"),
    [
        ('timezone = "Europe/Madrid"', 'timezone = "Europe/Atlantis"', "cost.timezone", "IANA time zone"),
        ('working_days = "MON-FRI"', 'working_days = "FRI-MON"', "cost.working_days", "runs forward"),
        ('working_days = "MON-FRI"', 'working_days = "MON-FRY"', "cost.working_days", "not a day"),
        ('working_hours = "08:00-20:00"', 'working_hours = "20:00-08:00"', "cost", "start before end"),
        ('working_hours = "08:00-20:00"', 'working_hours = "8-20"', "cost.working_hours", "should match"),
        (
            "actual_alert_percents = [80, 100]",
            "actual_alert_percents = [100, 80]",
            "cost.actual_alert_percents",
            "rising",
        ),
        ("monthly_budget_usd = 40", "monthly_budget_usd = 0", "cost.monthly_budget_usd", "greater than 0"),
        ("sleep_after_idle_hours = 2", "", "cost.sleep_after_idle_hours", "is required but missing"),
        (
            'orphan_report_schedule = "cron(0 7 ? * MON *)"',
            'orphan_report_schedule = "rate(7 days)"',
            "cost.orphan_report_schedule",
            "should match",
        ),
    ],
)
def test_bad_cost_values_name_the_field(environments_dir, replace, by, field, reason):
    assert replace in VALID
    (environments_dir / "staging.toml").write_text(VALID.replace(replace, by))
    with pytest.raises(ConfigError) as error:
        load_environment("staging")
    assert f"field '{field}'" in str(error.value) and reason in str(error.value)


def test_cost_settings_give_the_sleeper_its_schedule_and_the_estimate_its_hours():
    dev, prod = load_environment("dev"), load_environment("prod")
    assert dev.cost.endpoints_sleep and not prod.cost.endpoints_sleep
    assert dev.cost.sleep_schedule == "cron(0 20 * * ? *)"  # every day at the end of the working hours, local time
    assert dev.cost.working_hours_per_month == pytest.approx(5 * 12 * 365.25 / 12 / 7)
    for config in (dev, prod):
        assert config.cost.forecast_alert_percent >= config.cost.actual_alert_percents[0]
