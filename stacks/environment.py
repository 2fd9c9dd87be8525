"""Everything one environment deploys: its stacks, wired together by typed references."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Environment, Stack, Tags

from config import EnvironmentConfig
from constructs import Construct
from constructs.compliance import apply_mandatory_tags
from stacks.foundation import FoundationStack
from stacks.training import TrainingStack

# One stack per phase, deployed in this order. Stack names are `titanic-<env>-<phase>`.
PHASES = ("foundation", "training")


# Key of the curated dataset the training pipeline reads by default (replaced by the data stack's output at merge).
CURATED_DATASET_KEY = "datasets/curated/titanic.csv"


def stack_name(config: EnvironmentConfig, phase: str) -> str:
    return f"{config.prefix}-{phase}"


@dataclass(frozen=True)
class EnvironmentStacks:
    foundation: FoundationStack
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
    training = TrainingStack(
        scope,
        stack_name(config, "training"),
        config=config,
        foundation=foundation.outputs,
        # Until the data stack lands: the curated dataset is read from the artifacts bucket. The data stack
        # replaces these two arguments with its curated bucket and key.
        input_bucket=foundation.outputs.artifacts_bucket,
        input_data_key=CURATED_DATASET_KEY,
        env=env,
        description=f"titanic-sagemaker {config.name} phase 03: SageMaker training pipeline and model registry",
    )
    stacks = EnvironmentStacks(foundation=foundation, training=training)
    for phase, stack in zip(PHASES, stacks.all()):
        apply_mandatory_tags(stack, config.mandatory_tags)
        Tags.of(stack).add("phase", phase)
    return stacks
