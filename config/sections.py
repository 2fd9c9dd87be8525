"""Phase 00: the typed sections of an environment's settings, one model per TOML table.

config/settings.py composes them into EnvironmentConfig and loads the TOML files; stacks import the section they need.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The only values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def cloudwatch_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))} (the values CloudWatch Logs accepts)"
        )
    return value


class ConfigError(Exception):
    """A configuration problem, phrased for the person editing config/environments/."""


class _Settings(BaseModel):
    # Frozen: stacks receive settings, they never change them. Forbid: a misspelt key is an error, not a silent default.
    model_config = ConfigDict(frozen=True, extra="forbid")


class StorageSettings(_Settings):
    noncurrent_version_expiration_days: int = Field(ge=1, le=3650)
    access_log_expiration_days: int = Field(ge=1, le=3650)


class MlSettings(_Settings):
    # The quality gate (ml/gates.py): the local flow and the SageMaker pipeline read these same values.
    quality_metric: Literal["accuracy", "precision", "recall", "f1", "auc"]  # ml.contracts.QUALITY_METRICS
    quality_threshold: float = Field(gt=0.0, le=1.0)
    # The candidate's quality_metric must also be at least the gender rule's on the same test split plus this
    # (evaluation.json baseline.lift.<metric>); 0 only asks the model not to lose to the rule.
    baseline_margin: float = Field(ge=0.0, le=0.5)
    # How much worse than the champion (scored on the same test split) a candidate may be before it is rejected.
    champion_tolerance: float = Field(ge=0.0, le=0.5)


class DataSettings(_Settings):
    """Phase 01: the data bucket's areas and the validation Lambda."""

    # Days after which the current version of an object expires in each area (older versions follow `storage`).
    raw_expiration_days: int = Field(ge=1, le=3650)
    curated_expiration_days: int = Field(ge=1, le=3650)
    quarantine_expiration_days: int = Field(ge=1, le=3650)
    # Objects above this size are quarantined with a report instead of being read into the Lambda's memory.
    max_object_mb: int = Field(ge=1, le=1024)
    validation_memory_mb: int = Field(ge=128, le=10240)
    validation_timeout_seconds: int = Field(ge=10, le=900)

    # Validation holds the file and its parsed rows in memory: measured ~19x the file size at peak
    # (docs/01-data-ingestion.md); 32x leaves room for the runtime and the copy.
    @model_validator(mode="after")
    def _memory_fits_the_largest_object(self) -> DataSettings:
        if self.validation_memory_mb < 32 * self.max_object_mb:
            raise ValueError(
                f"validation_memory_mb ({self.validation_memory_mb}) must be at least 32 x max_object_mb "
                f"({32 * self.max_object_mb}) so the largest accepted object fits in the Lambda's memory"
            )
        return self


class TrainingSettings(_Settings):
    """Phase 03, the SageMaker training pipeline. Instance values are the pipeline parameters' defaults."""

    processing_instance_type: str = Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    processing_instance_count: int = Field(ge=1, le=10)
    training_instance_type: str = Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    preprocess_seed: int = Field(ge=0)  # the split seed, the same default the local flow uses
    # Extra `--name value` arguments of ml/train.py (none needed by default).
    hyperparameters: dict[str, str | int | float] = Field(default_factory=dict)
    # Derived from [mlflow] (EnvironmentConfig fills them; a TOML file may not set them). The training stack reads
    # `config.mlflow`; these stay for readers that only need "is an hourly-billed server built" (True = a
    # SageMaker-managed tracking server, billed every hour it exists).
    mlflow_tracking_server: bool
    mlflow_tracking_server_size: Literal["Small", "Medium", "Large"] = "Small"
    # When prod lives in another account: that account may read this environment's model packages. None: same account.
    prod_account_id: str | None = Field(default=None, pattern=r"^\d{12}$")


# ---------------------------------------------------------------------------------------------- MLflow (seed 004)
class MlflowSettings(_Settings):
    """MLflow tracking per environment and the retention of what it stores (docs/03, "Tracking architecture")."""

    # app: SageMaker MLflow App (serverless, no charge while idle; one IAM action, sagemaker:CallMlflowAppApi);
    # server: SageMaker MLflow tracking server (billed per hour while it exists, fine-grained sagemaker-mlflow:* IAM);
    # none: no tracking in AWS (the local store only). docs/03 "Tracking architecture" compares them.
    tracking: Literal["app", "server", "none"]
    server_size: Literal["Small", "Medium", "Large"] = "Small"  # only with tracking = "server"
    # Runs deleted longer than this are removed for good by `make mlflow-gc` (local store). In AWS no API hard-deletes
    # a run; the artifact janitor that would apply it there is pending (docs/03, "Retention").
    deleted_run_retention_days: int = Field(ge=1, le=3650)
    # Noncurrent (overwritten or deleted) object versions under the artifact store's mlflow/ prefix expire after this
    # (an S3 lifecycle rule of the artifacts bucket; at most storage.noncurrent_version_expiration_days).
    artifact_noncurrent_days: int = Field(ge=1, le=3650)
    # Retention of the registry audit log group (model package and release events; a CloudWatch Logs value).
    audit_log_retention_days: int

    @field_validator("audit_log_retention_days")
    @classmethod
    def _audit_retention_is_a_cloudwatch_value(cls, value: int) -> int:
        return cloudwatch_retention(value)

    @model_validator(mode="after")
    def _size_only_for_a_server(self) -> MlflowSettings:
        if "server_size" in self.model_fields_set and self.tracking != "server":
            raise ValueError(f"server_size applies only to tracking = 'server' (tracking is {self.tracking!r})")
        return self


# ---------------------------------------------------------------------------------------------- serving (phase 04)
class EndpointStageSettings(_Settings):
    """One endpoint stage (staging or prod) of an environment: its fleet and how an update reaches it."""

    instance_type: str = Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(ge=1, le=10)
    # Target-tracking autoscaling (applied after each rollout): min..max instances around invocations per instance.
    max_instances: int = Field(ge=1, le=20)
    target_invocations_per_instance: int = Field(ge=1, le=100000)
    # Blue/green traffic shifting of an update (deployment guardrails); ALL_AT_ONCE still bakes and auto-rolls back.
    traffic_routing: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]
    traffic_step_percent: int = Field(ge=1, le=50)
    wait_interval_seconds: int = Field(ge=0, le=3600)
    termination_wait_seconds: int = Field(ge=0, le=3600)

    @model_validator(mode="after")
    def _fleet_is_consistent(self) -> EndpointStageSettings:
        if self.max_instances < self.instance_count:
            raise ValueError("max_instances must be at least instance_count")
        if self.traffic_routing != "ALL_AT_ONCE" and self.instance_count < 2:
            raise ValueError(
                "CANARY and LINEAR traffic shifting need instance_count >= 2 (a step is part of the fleet)"
            )
        return self


class ServingSettings(_Settings):
    staging: EndpointStageSettings
    prod: EndpointStageSettings
    data_capture_percent: int = Field(ge=0, le=100)
    # The smoke test's latency budget for one request of the known passengers (ml/smoke.py judges it).
    latency_budget_ms: int = Field(ge=10, le=60000)
    # Guard alarms (they roll a prod rollout back): per-minute thresholds on the prod endpoint.
    max_5xx_per_minute: int = Field(ge=1)
    max_model_errors_per_minute: int = Field(ge=1)
    max_model_latency_ms: int = Field(ge=1, le=60000)
    endpoint_poll_seconds: int = Field(ge=5, le=600)


# ---------------------------------------------------------------------------------------------- orchestration (06)
class OrchestrationSettings(_Settings):
    approval_timeout_hours: int = Field(ge=1, le=24 * 7)
    retrain_schedule: str = Field(pattern=r"^cron\([^)]+\)$")  # EventBridge Scheduler cron(...) expression
    retrain_timezone: str = Field(pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+){0,2}$|^UTC$")
    retrain_schedule_enabled: bool
    pipeline_poll_seconds: int = Field(ge=10, le=3600)


# ---------------------------------------------------------------------------------------------- monitoring (06)
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_MINUTES_PER_UNIT = {"minute": 1, "hour": 60, "day": 24 * 60}


class MonitoringSettings(_Settings):
    """The drift check of captured endpoint traffic (ml/drift.py) and the scheduled job that runs it.

    docs/06-observability-operations.md ("Model monitoring") says why each value is what it is.
    """

    schedule: str = Field(pattern=r"^rate\([^)]+\)$|^cron\([^)]+\)$")  # EventBridge Scheduler expression
    window_hours: int = Field(ge=1, le=168)  # each run checks the capture of the last complete hours
    capture_expiration_days: int = Field(ge=1, le=365)  # lifecycle of data-capture/: it holds names and tickets
    psi_threshold: float = Field(gt=0.0, le=10.0)
    significance: float = Field(gt=0.0, lt=0.5)  # the chi-square p-value a shift must also beat
    # Decile bins need about 5 expected records per bin for the chi-square approximation: 10 x 5 = 50 at least.
    min_records: int = Field(ge=50, le=10_000_000)
    missing_rate_increase: float = Field(gt=0.0, le=1.0)
    violation_rate_max: float = Field(ge=0.0, le=1.0)
    prediction_drift_alarms: bool  # off: a window that spans a model rollout holds the previous model's outputs
    # The scheduled job (lambdas/drift_check): its memory bounds the window it can hold (measured in docs/06).
    check_memory_mb: int = Field(ge=256, le=10240)
    check_timeout_seconds: int = Field(ge=60, le=900)

    @field_validator("schedule")
    @classmethod
    def _rate_is_well_formed(cls, value: str) -> str:
        if value.startswith("rate("):
            match = _RATE.match(value)
            if not match or int(match.group(1)) < 1 or (int(match.group(1)) == 1) == match.group(2).endswith("s"):
                raise ValueError("must be rate(<n> <unit>) with n >= 1, unit minute/hour/day (plural when n > 1)")
        return value

    @property
    def schedule_period_minutes(self) -> int | None:
        """The period of a rate(...) schedule in minutes; None for a cron(...) schedule."""
        match = _RATE.match(self.schedule)
        return int(match.group(1)) * _MINUTES_PER_UNIT[match.group(2).rstrip("s")] if match else None

    @model_validator(mode="after")
    def _window_and_retention_cover_the_schedule(self) -> MonitoringSettings:
        period_minutes = self.schedule_period_minutes
        if period_minutes is not None and self.window_hours * 60 < period_minutes:
            raise ValueError(
                f"window_hours ({self.window_hours}) is shorter than the schedule period ({self.schedule}): "
                "traffic between two runs would never be checked"
            )
        if self.capture_expiration_days * 24 < self.window_hours + 24:
            raise ValueError(
                f"capture_expiration_days ({self.capture_expiration_days}) must keep captured records at least one "
                f"day past the window ({self.window_hours} h) so that a late or repeated run still finds them"
            )
        return self
