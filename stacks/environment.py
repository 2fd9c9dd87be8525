"""Everything one environment deploys: its stacks, wired together by typed references."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Environment, Stack, Tags

from config import EnvironmentConfig
from constructs import Construct
from constructs.compliance import apply_mandatory_tags
from stacks.data import DataStack
from stacks.foundation import FoundationStack
from stacks.training import TrainingStack

# One stack per phase, deployed in this order. Stack names are `titanic-<env>-<phase>`.
PHASES = ("foundation", "data", "training")


def stack_name(config: EnvironmentConfig, phase: str) -> str:
    return f"{config.prefix}-{phase}"


@dataclass(frozen=True)
class EnvironmentStacks:
    foundation: FoundationStack
    data: DataStack
    training: TrainingStack

    def all(self) -> list[Stack]:
        return [getattr(self, phase) for phase in PHASES]


def build_environment(scope: Construct, config: EnvironmentConfig) -> EnvironmentStacks:
    # No account in config: the stacks are environment-agnostic and deploy to the CLI's current account.
    env = Environment(account=config.account, region=config.region)
    foundation = FoundationStack(
        scope,
        stack_name(config, "foundation"),
        config=config,
        env=env,
        description=f"titanic-sagemaker {config.name} phase 00: KMS key, log and artifacts buckets, alerts topic",
    )
    data = DataStack(
        scope,
        stack_name(config, "data"),
        config=config,
        foundation=foundation.outputs,
        env=env,
        description=f"titanic-sagemaker {config.name} phase 01: data bucket, validation Lambda, seed dataset",
    )
    training = TrainingStack(
        scope,
        stack_name(config, "training"),
        config=config,
        foundation=foundation.outputs,
        input_bucket=data.outputs.bucket,
        input_data_key=data.outputs.curated_dataset_key,
        env=env,
        description=f"titanic-sagemaker {config.name} phase 03: SageMaker training pipeline and model registry",
    )
    stacks = EnvironmentStacks(foundation=foundation, data=data, training=training)
    for phase, stack in zip(PHASES, stacks.all()):
        apply_mandatory_tags(stack, config.mandatory_tags)
        Tags.of(stack).add("phase", phase)
    return stacks
