"""Phase 00: environment settings as typed data.

Each environment is one TOML file in config/environments/ (its file name is the environment name).
Every value is validated here (the section models live in config/sections.py), before any construct exists, so a
bad or missing value fails with a message that names the environment and the field instead of surfacing as a
CloudFormation error.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from config.cost import CostSettings
from config.names import PROJECT, Names
from config.sections import (
    ConfigError,
    DataSettings,
    MlflowSettings,
    MlSettings,
    MonitoringSettings,
    OrchestrationSettings,
    ServingSettings,
    StorageSettings,
    TrainingSettings,
    _Settings,
    cloudwatch_retention,
)

ENVIRONMENTS_DIR = Path(__file__).resolve().parent / "environments"


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
    mlflow: MlflowSettings
    serving: ServingSettings
    orchestration: OrchestrationSettings
    monitoring: MonitoringSettings
    cost: CostSettings

    @field_validator("log_retention_days")
    @classmethod
    def _retention_is_a_cloudwatch_value(cls, value: int) -> int:
        return cloudwatch_retention(value)

    @model_validator(mode="before")
    @classmethod
    def _training_reads_the_tracking_choice(cls, raw: object) -> object:
        """[mlflow] is the one place the tracking choice is written; the training settings get their copy from it."""
        if not isinstance(raw, dict) or not isinstance(raw.get("training"), dict):
            return raw  # the field validators report what is missing
        training = dict(raw["training"])
        moved = sorted(set(training) & {"mlflow_tracking_server", "mlflow_tracking_server_size"})
        if moved:
            raise ValueError(
                f"training.{moved[0]} moved to [mlflow] (tracking, server_size): remove it from [training]"
            )
        mlflow = raw.get("mlflow") if isinstance(raw.get("mlflow"), dict) else {}
        training["mlflow_tracking_server"] = mlflow.get("tracking") == "server"
        if "server_size" in mlflow:
            training["mlflow_tracking_server_size"] = mlflow["server_size"]
        return {**raw, "training": training}

    @model_validator(mode="after")
    def _production_is_tracked(self) -> EnvironmentConfig:
        if self.name == "prod" and self.mlflow.tracking == "none":
            raise ValueError("mlflow.tracking must be 'app' or 'server' in the prod environment (runs must persist)")
        return self

    @model_validator(mode="after")
    def _mlflow_artifact_retention_is_not_cut_by_the_bucket_rule(self) -> EnvironmentConfig:
        # The artifacts bucket's rule for every prefix also covers mlflow/, and S3 honours the shorter of two
        # overlapping expirations (docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-conflicts.html).
        if self.mlflow.artifact_noncurrent_days > self.storage.noncurrent_version_expiration_days:
            raise ValueError(
                f"mlflow.artifact_noncurrent_days ({self.mlflow.artifact_noncurrent_days}) must not exceed "
                f"storage.noncurrent_version_expiration_days ({self.storage.noncurrent_version_expiration_days}): "
                "the bucket-wide rule would expire MLflow's old versions first"
            )
        return self

    @model_validator(mode="after")
    def _production_serves_from_two_instances(self) -> EnvironmentConfig:
        # Production's prod endpoint spans at least two instances, which SageMaker spreads across Availability Zones.
        if self.name == "prod" and self.serving.prod.instance_count < 2:
            raise ValueError("serving.prod.instance_count must be >= 2 in the prod environment (one per AZ)")
        return self

    @property
    def names(self) -> Names:
        """Every resource name of this environment (config/names.py)."""
        return Names(self.name)

    @property
    def prefix(self) -> str:
        """Name prefix of every stack and named resource of this environment (cleanup finds resources by it)."""
        return self.names.prefix

    @property
    def destroy_on_delete(self) -> bool:
        """Whether CloudFormation deletes this environment's stateful resources with their stack."""
        return self.data_removal_policy == "destroy"

    @property
    def mandatory_tags(self) -> dict[str, str]:
        return {
            "project": PROJECT,
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
        problems = "\n".join(f"  - {_where(item)}: {_describe(item)}" for item in error.errors())
        raise ConfigError(f"Invalid configuration for environment '{name}' ({_relative(path)}):\n{problems}") from None


def load_all_environments() -> list[EnvironmentConfig]:
    return [load_environment(name) for name in available_environments()]


def select_environments(context_value: str | None) -> list[EnvironmentConfig]:
    """The environments to build: `-c env=NAME` wins over `ENV=NAME`; neither means all of them."""
    name = context_value or os.environ.get("ENV") or ""
    if not name or name == "all":
        return load_all_environments()
    return [load_environment(name)]


def _where(item: dict) -> str:
    # A check across sections (no single field) has an empty location.
    return f"field '{'.'.join(str(part) for part in item['loc'])}'" if item["loc"] else "the file"


def _describe(item: dict) -> str:
    if item["type"] == "missing":
        return "is required but missing"
    if item["type"] == "extra_forbidden":
        return "is not a known setting (misspelt?)"
    return f"{item['msg']} (got {item.get('input')!r})"


def _relative(path: Path) -> str:
    return str(path.relative_to(ENVIRONMENTS_DIR.parent.parent))
