"""What an endpoint serves, followed to the drift baseline of that model.

DescribeEndpoint -> its current endpoint config -> the variant's model -> the model package the model was created
from -> the package's DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri (the baseline.json ModelEvaluation
published). Nothing here reads the release records (SSM): the endpoint itself says what it serves.

Every name on the way must belong to this environment (the promotion workflow's models and configs, its model
package group, its baselines folder): anything else is reported as foreign rather than followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError


class EndpointAbsent(Exception):
    """The endpoint does not exist (stopped outside working hours, or never released): nothing to check."""


class NoBaseline(Exception):
    """The served model has no published baseline (a package registered before baselines existed)."""


class ForeignResource(Exception):
    """The endpoint leads to a config, model, package or baseline outside this environment."""


@dataclass(frozen=True)
class Ownership:
    """What belongs to this environment: name prefix of the workflow's models and configs, the ARN prefix of the
    packages of its group, and the S3 folder of its published baselines."""

    resource_prefix: str
    package_arn_prefix: str
    baselines_uri_prefix: str

    def check(self, kind: str, value: str, prefix: str) -> str:
        if not value.startswith(prefix):
            raise ForeignResource(f"{kind} {value!r} is not one of this environment's (expected {prefix}...)")
        return value


@dataclass(frozen=True)
class ServedModel:
    endpoint: str
    endpoint_status: str
    last_modified: str | None  # when the endpoint last changed (an update inside the window mixes two models)
    variant: str
    endpoint_config: str
    model: str
    model_package: str
    baseline_uri: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _not_found(error: ClientError) -> bool:
    """SageMaker answers a describe of a missing endpoint with a ValidationException "Could not find endpoint"."""
    details = error.response.get("Error", {})
    return details.get("Code") in ("ValidationException", "ValidationError") and "Could not find" in str(
        details.get("Message", "")
    )


def served_model(sagemaker: Any, endpoint: str, variant: str, owned: Ownership) -> ServedModel:
    """The model `variant` of `endpoint` serves and its baseline; EndpointAbsent, NoBaseline or ForeignResource."""
    try:
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
    except ClientError as error:
        if _not_found(error):
            raise EndpointAbsent(f"endpoint {endpoint} does not exist") from None
        raise
    config_name = owned.check("endpoint config", described["EndpointConfigName"], owned.resource_prefix)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    models = {item["VariantName"]: item.get("ModelName") for item in config.get("ProductionVariants", [])}
    if not models.get(variant):
        raise ForeignResource(f"endpoint config {config_name} has no variant {variant} with a model")
    model_name = owned.check("model", models[variant], owned.resource_prefix)
    container = sagemaker.describe_model(ModelName=model_name).get("PrimaryContainer") or {}
    if not container.get("ModelPackageName"):
        raise NoBaseline(f"model {model_name} was not created from a model package: no baseline to judge it by")
    package = owned.check("model package", container["ModelPackageName"], owned.package_arn_prefix)
    described_package = sagemaker.describe_model_package(ModelPackageName=package)
    statistics = described_package.get("DriftCheckBaselines", {}).get("ModelDataQuality", {}).get("Statistics", {})
    if not statistics.get("S3Uri"):
        raise NoBaseline(f"model package {package} has no DriftCheckBaselines.ModelDataQuality.Statistics")
    baseline_uri = owned.check("baseline", statistics["S3Uri"], owned.baselines_uri_prefix)
    modified = described.get("LastModifiedTime")
    return ServedModel(
        endpoint=endpoint,
        endpoint_status=described.get("EndpointStatus", "unknown"),
        last_modified=modified.isoformat() if hasattr(modified, "isoformat") else None,
        variant=variant,
        endpoint_config=config_name,
        model=model_name,
        model_package=package,
        baseline_uri=baseline_uri,
    )
