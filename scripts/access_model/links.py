"""Lookups the reviewed rules use to connect one call to another or to the templates (the `{@name:...}` functions).

They follow names the way AWS does: an endpoint runs the config it was created or updated with, a config runs the
models its variants name, a model runs with the role CreateModel gave it, a model package has the containers its
pipeline registered, an image URI lives in an ECR repository, an MLflow app or tracking server stores artifacts under
its ArtifactStoreUri and authorizes the MLflow client's REST calls as its own IAM actions.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Callable
from pathlib import Path

from access_model.assembly import Environment
from access_model.pipeline import ModelPackage
from access_model.requests import SAMPLE_ID, Call

IMAGE_URI = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)")
PACKAGE_ARN = re.compile(r":model-package/(?P<group>[^/]+)/\d+$")
TARGET_ACTIONS = {  # the action a rule or schedule performs on its target, by the target ARN's service
    "states": "states:StartExecution",
    "lambda": "lambda:InvokeFunction",
    "sns": "sns:Publish",
    "sqs": "sqs:SendMessage",
    "events": "events:PutEvents",
}
ROOT = Path(__file__).resolve().parents[2]
MLFLOW_CLIENT_CODE = "ml"  # the code the training job runs (ml/local/ is the local mode only)
MLFLOW_KINDS = {  # ARN resource type -> the template resource that is it
    "mlflow-app": "AWS::SageMaker::MlflowApp",
    "mlflow-tracking-server": "AWS::SageMaker::MlflowTrackingServer",
}
MLFLOW_APP_ACTION = "sagemaker:CallMlflowAppApi"  # an app authorizes every REST call as this one action


class Links:
    def __init__(self, env: Environment, calls: list[Call], packages: list[ModelPackage], mlflow: dict) -> None:
        self.env = env
        self.calls = calls
        self.packages = packages
        self.mlflow = mlflow

    def functions(self) -> dict[str, Callable[[str], list[str]]]:
        return {
            "role_of_model": lambda name: self._param_where(
                "sagemaker:CreateModel", "ModelName", name, "ExecutionRoleArn"
            ),
            "models_of_config": self._models_of_config,
            "config_of_endpoint": self._config_of_endpoint,
            "package_model_data": lambda arn: [c["ModelDataUrl"] for c in self._containers(arn) if "ModelDataUrl" in c],
            "package_code": lambda arn: [
                c["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"]
                for c in self._containers(arn)
                if "SAGEMAKER_SUBMIT_DIRECTORY" in c.get("Environment", {})
            ],
            "package_image": lambda arn: [c["Image"] for c in self._containers(arn) if "Image" in c],
            "ecr_repository": self._ecr_repository,
            "json": lambda text: [json.loads(text)] if text.startswith('"') else [text],
            "sample_id": lambda _: [SAMPLE_ID],
            "target_action": lambda arn: [TARGET_ACTIONS[arn.split(":")[2]]],
            "mlflow_actions": self._mlflow_actions,
            "mlflow_artifact_location": self._mlflow_artifact_location,
        }

    def _param_where(self, action: str, key: str, value: str, wanted: str) -> list[str]:
        return sorted({c.params[wanted] for c in self.calls if c.action == action and c.params.get(key) == value})

    def _models_of_config(self, name: str) -> list[str]:
        return sorted(
            {
                variant["ModelName"]
                for call in self.calls
                if call.action == "sagemaker:CreateEndpointConfig" and call.params.get("EndpointConfigName") == name
                for variant in call.params.get("ProductionVariants", [])
            }
        )

    def _config_of_endpoint(self, name: str) -> list[str]:
        return sorted(
            {
                call.params["EndpointConfigName"]
                for call in self.calls
                if call.action in ("sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint")
                and call.params.get("EndpointName") == name
            }
        )

    def _containers(self, package_arn: str) -> list[dict]:
        match = PACKAGE_ARN.search(package_arn)
        return [c for p in self.packages if match and p.group == match["group"] for c in p.containers]

    @staticmethod
    def _ecr_repository(image: str) -> list[str]:
        match = IMAGE_URI.match(image)
        return [f"arn:aws:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"] if match else []

    def _mlflow_actions(self, tracking_arn: str) -> list[str]:
        """The IAM actions the training job's MLflow client is authorized as, against the app or tracking server
        `tracking_arn` names: each REST call the code's fluent functions send is its own sagemaker-mlflow action on
        a tracking server, and the one CallMlflowAppApi on an app."""
        kind = tracking_arn.split(":", 5)[-1].split("/", 1)[0]
        if kind not in MLFLOW_KINDS:
            raise KeyError(f"MLFLOW_TRACKING_URI {tracking_arn} names neither an MLflow app nor a tracking server")
        calls = mlflow_rest_calls(self.mlflow)
        return [MLFLOW_APP_ACTION] if kind == "mlflow-app" else [f"sagemaker-mlflow:{call}" for call in calls]

    def _mlflow_artifact_location(self, tracking_arn: str) -> list[str]:
        for tracking in self.env.resources(*MLFLOW_KINDS.values()):
            if self.env.arn_of(tracking) == tracking_arn:
                return [f"{tracking.properties['ArtifactStoreUri'].rstrip('/')}/1/sample-run/artifacts/sample.json"]
        return []


def mlflow_rest_calls(table: dict[str, list[str]], folder: str = MLFLOW_CLIENT_CODE) -> list[str]:
    """The MLflow REST calls the fluent functions the code under `folder` uses send (the reviewed [mlflow] table);
    a function missing from the table fails the model."""
    calls = set()
    for function in mlflow_functions((ROOT / folder).resolve()):
        if function not in table:
            raise KeyError(f"MLflow function mlflow.{function} is not in extra_permissions.toml [mlflow]")
        calls |= {call for call in table[function] if call != "artifact"}
    return sorted(calls)


@functools.cache
def mlflow_functions(folder: Path) -> list[str]:
    """Every `mlflow.<function>(...)` the Python code under `folder` calls (ml/local/ is the local mode only)."""
    found = set()
    for path in sorted(folder.rglob("*.py")):
        if "local" in path.relative_to(folder).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "mlflow"
            ):
                found.add(node.func.attr)
    return sorted(found)
