"""Phases 00-07: everything one environment deploys, its stacks wired together by typed references.

The stacks, their phase numbers and descriptions come from config/phases.py (`STACK_PHASES`); the README's phase map
says which code, tests and document belong to each phase.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Environment, Stack, Tags

from config import EnvironmentConfig
from config.phases import STACK_PHASES
from constructs import Construct
from constructs.compliance import apply_mandatory_tags
from stacks.data import DataStack
from stacks.foundation import FoundationStack
from stacks.observability import ObservabilityStack, Observed
from stacks.orchestration import OrchestrationStack
from stacks.serving import ServingStack
from stacks.training import TrainingStack

# One stack per phase, deployed in this order. Stack names are `titanic-<env>-<phase>`.
PHASES = tuple(phase.key for phase in STACK_PHASES)


@dataclass(frozen=True)
class EnvironmentStacks:
    foundation: FoundationStack
    data: DataStack
    training: TrainingStack
    serving: ServingStack
    orchestration: OrchestrationStack
    observability: ObservabilityStack

    def all(self) -> list[Stack]:
        return [getattr(self, phase) for phase in PHASES]


def build_environment(scope: Construct, config: EnvironmentConfig) -> EnvironmentStacks:
    # No account in config: the stacks are environment-agnostic and deploy to the CLI's current account.
    env = Environment(account=config.account, region=config.region)
    names = config.names

    def place(phase: str) -> dict:
        """Where a phase's stack goes: its name, description and deployment environment."""
        return {"construct_id": names.stack(phase), "description": names.stack_description(phase), "env": env}

    foundation = FoundationStack(
        scope,
        config=config,
        **place("foundation"),
    )
    data = DataStack(
        scope,
        config=config,
        foundation=foundation.outputs,
        **place("data"),
    )
    training = TrainingStack(
        scope,
        config=config,
        foundation=foundation.outputs,
        input_bucket=data.outputs.bucket,
        input_data_key=data.outputs.curated_dataset_key,
        **place("training"),
    )
    serving = ServingStack(
        scope,
        config=config,
        foundation=foundation.outputs,
        **place("serving"),
    )
    orchestration = OrchestrationStack(
        scope,
        config=config,
        foundation=foundation.outputs,
        serving=serving.outputs,
        training=training.outputs,
        data=data.outputs,
        **place("orchestration"),
    )
    # The workflows name the pipeline (start, list and poll its executions) without a CloudFormation reference to it,
    # so nothing else orders the deployments: without this, orchestration could deploy before the pipeline exists.
    orchestration.add_stack_dependency(training, "the retraining workflow starts and polls the training pipeline")
    observability = ObservabilityStack(
        scope,
        config=config,
        observed=Observed(
            foundation=foundation.outputs,
            serving=serving.outputs,
            stacks=(foundation, data, training, serving, orchestration),
        ),
        **place("observability"),
    )
    stacks = EnvironmentStacks(foundation, data, training, serving, orchestration, observability)
    for phase, stack in zip(PHASES, stacks.all()):
        apply_mandatory_tags(stack, config.mandatory_tags)
        Tags.of(stack).add("phase", phase)
    return stacks
