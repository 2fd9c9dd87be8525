"""Everything one environment deploys: its stacks, wired together by typed references."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Environment, Stack, Tags

from config import EnvironmentConfig
from constructs import Construct
from constructs.compliance import apply_mandatory_tags
from stacks.foundation import FoundationStack
from stacks.orchestration import OrchestrationStack
from stacks.serving import ServingStack

# One stack per phase, deployed in this order. Stack names are `titanic-<env>-<phase>`.
PHASES = ("foundation", "serving", "orchestration")


def stack_name(config: EnvironmentConfig, phase: str) -> str:
    return f"{config.prefix}-{phase}"


@dataclass(frozen=True)
class EnvironmentStacks:
    foundation: FoundationStack
    serving: ServingStack
    orchestration: OrchestrationStack

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
    # --- serving and orchestration (phases 04 and 06)
    serving = ServingStack(
        scope,
        stack_name(config, "serving"),
        config=config,
        foundation=foundation.outputs,
        env=env,
        description=f"titanic-sagemaker {config.name} phase 04: endpoint role, guard alarms, release records",
    )
    orchestration = OrchestrationStack(
        scope,
        stack_name(config, "orchestration"),
        config=config,
        foundation=foundation.outputs,
        serving=serving.outputs,
        # wired to the training stack's outputs at merge
        pipeline_name=f"{config.prefix}-training",
        pipeline_arn=f"arn:aws:sagemaker:{config.region}:{config.account or Aws.ACCOUNT_ID}:pipeline/"
        f"{config.prefix}-training",
        model_package_group_name=f"{config.prefix}-models",
        model_package_group_arn=f"arn:aws:sagemaker:{config.region}:{config.account or Aws.ACCOUNT_ID}:"
        f"model-package-group/{config.prefix}-models",
        # wired to the data stack's event contract at merge
        dataset_event_source="titanic-sagemaker.data",
        dataset_event_detail_type="DatasetValidated",
        env=env,
        description=f"titanic-sagemaker {config.name} phase 06: promotion and retraining workflows",
    )
    stacks = EnvironmentStacks(foundation=foundation, serving=serving, orchestration=orchestration)
    for phase, stack in zip(PHASES, stacks.all()):
        apply_mandatory_tags(stack, config.mandatory_tags)
        Tags.of(stack).add("phase", phase)
    return stacks
