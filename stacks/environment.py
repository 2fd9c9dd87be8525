"""Everything one environment deploys: its stacks, wired together by typed references."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Environment, Stack, Tags

from config import EnvironmentConfig
from constructs import Construct
from constructs.compliance import apply_mandatory_tags
from stacks.data import DataStack
from stacks.foundation import FoundationStack
from stacks.orchestration import OrchestrationStack
from stacks.serving import ServingStack
from stacks.training import TrainingStack

# One stack per phase, deployed in this order. Stack names are `titanic-<env>-<phase>`.
PHASES = ("foundation", "data", "training", "serving", "orchestration")


def stack_name(config: EnvironmentConfig, phase: str) -> str:
    return f"{config.prefix}-{phase}"


@dataclass(frozen=True)
class EnvironmentStacks:
    foundation: FoundationStack
    data: DataStack
    training: TrainingStack
    serving: ServingStack
    orchestration: OrchestrationStack

    def all(self) -> list[Stack]:
        return [getattr(self, phase) for phase in PHASES]


def build_environment(scope: Construct, config: EnvironmentConfig) -> EnvironmentStacks:
    # No account in config: the stacks are environment-agnostic and deploy to the CLI's current account.
    env = Environment(account=config.account, region=config.region)

    def describe(phase: str, what: str) -> str:
        return f"titanic-sagemaker {config.name} phase {phase}: {what}"

    foundation = FoundationStack(
        scope,
        stack_name(config, "foundation"),
        config=config,
        env=env,
        description=describe("00", "KMS key, log and artifacts buckets, alerts topic"),
    )
    data = DataStack(
        scope,
        stack_name(config, "data"),
        config=config,
        foundation=foundation.outputs,
        env=env,
        description=describe("01", "data bucket, validation Lambda, seed dataset"),
    )
    training = TrainingStack(
        scope,
        stack_name(config, "training"),
        config=config,
        foundation=foundation.outputs,
        input_bucket=data.outputs.bucket,
        input_data_key=data.outputs.curated_dataset_key,
        env=env,
        description=describe("03", "SageMaker training pipeline and model registry"),
    )
    serving = ServingStack(
        scope,
        stack_name(config, "serving"),
        config=config,
        foundation=foundation.outputs,
        env=env,
        description=describe("04", "endpoint role, guard alarms, release records"),
    )
    orchestration = OrchestrationStack(
        scope,
        stack_name(config, "orchestration"),
        config=config,
        foundation=foundation.outputs,
        serving=serving.outputs,
        pipeline_name=training.outputs.pipeline_name,
        pipeline_arn=training.outputs.pipeline_arn,
        pipeline_input_parameter=training.outputs.input_data_parameter,
        model_package_group_name=training.outputs.model_package_group_name,
        model_package_group_arn=training.outputs.model_package_group_arn,
        dataset_event_source=data.outputs.event_source,
        dataset_event_detail_type=data.outputs.event_detail_type,
        env=env,
        description=describe("06", "promotion and retraining workflows"),
    )
    stacks = EnvironmentStacks(foundation, data, training, serving, orchestration)
    for phase, stack in zip(PHASES, stacks.all()):
        apply_mandatory_tags(stack, config.mandatory_tags)
        Tags.of(stack).add("phase", phase)
    return stacks
