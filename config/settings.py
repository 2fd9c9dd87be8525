"""Environment settings as typed data.

Each environment is one TOML file in config/environments/ (its file name is the environment name).
Every value is validated here, before any construct exists, so a bad or missing value fails with a
message that names the environment and the field instead of surfacing as a CloudFormation error.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENVIRONMENTS_DIR = Path(__file__).resolve().parent / "environments"

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
    # SageMaker-managed MLflow tracking server (seed 004); costs per hour while it exists, see docs/03.
    mlflow_tracking_server: bool
    mlflow_tracking_server_size: Literal["Small", "Medium", "Large"] = "Small"
    # When prod lives in another account: that account may read this environment's model packages. None: same account.
    prod_account_id: str | None = Field(default=None, pattern=r"^\d{12}$")


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


class EnvironmentConfig(_Settings):
    name: str = Field(pattern=r"^[a-z][a-z0-9]{1,11}$")
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    owner: str = Field(min_length=1, max_length=128, pattern=r"^[\w.:/=+@ -]+$")
    cost_center: str = Field(min_length=1, max_length=128, pattern=r"^[\w.:/=+@ -]+$")
    alert_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
    log_retention_days: int
    data_removal_policy: Literal["retain", "destroy"]
    storage: StorageSettings
    ml: MlSettings
    data: DataSettings
    training: TrainingSettings
    serving: ServingSettings
    orchestration: OrchestrationSettings

    @field_validator("log_retention_days")
    @classmethod
    def _retention_is_a_cloudwatch_value(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))} (the values CloudWatch Logs accepts)"
            )
        return value

    @model_validator(mode="after")
    def _production_serves_from_two_instances(self) -> EnvironmentConfig:
        # Production's prod endpoint spans at least two instances, which SageMaker spreads across Availability Zones.
        if self.name == "prod" and self.serving.prod.instance_count < 2:
            raise ValueError("serving.prod.instance_count must be >= 2 in the prod environment (one per AZ)")
        return self

    @property
    def prefix(self) -> str:
        """Name prefix of every stack and named resource of this environment (cleanup finds resources by it)."""
        return f"titanic-{self.name}"

    @property
    def mandatory_tags(self) -> dict[str, str]:
        return {
            "project": "titanic-sagemaker",
            "env": self.name,
            "owner": self.owner,
            "managed_by": "cdk",
            "cost_center": self.cost_center,
        }


def available_environments() -> list[str]:
    return sorted(path.stem for path in ENVIRONMENTS_DIR.glob("*.toml"))


def load_environment(name: str) -> EnvironmentConfig:
    path = ENVIRONMENTS_DIR / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"Unknown environment '{name}'. Valid environments: {', '.join(available_environments())}.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"Environment '{name}' ({_relative(path)}): not valid TOML: {error}") from error
    try:
        return EnvironmentConfig(name=name, **raw)
    except ValidationError as error:
        problems = "\n".join(
            f"  - field '{'.'.join(str(part) for part in item['loc'])}': {_describe(item)}" for item in error.errors()
        )
        raise ConfigError(f"Invalid configuration for environment '{name}' ({_relative(path)}):\n{problems}") from None


def load_all_environments() -> list[EnvironmentConfig]:
    return [load_environment(name) for name in available_environments()]


def select_environments(context_value: str | None) -> list[EnvironmentConfig]:
    """The environments to build: `-c env=NAME` wins over `ENV=NAME`; neither means all of them."""
    name = context_value or os.environ.get("ENV") or ""
    if not name or name == "all":
        return load_all_environments()
    return [load_environment(name)]


def _describe(item: dict) -> str:
    if item["type"] == "missing":
        return "is required but missing"
    if item["type"] == "extra_forbidden":
        return "is not a known setting (misspelt?)"
    return f"{item['msg']} (got {item.get('input')!r})"


def _relative(path: Path) -> str:
    return str(path.relative_to(ENVIRONMENTS_DIR.parent.parent))
