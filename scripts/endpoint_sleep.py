#!/usr/bin/env python3
"""Phase 07: put an environment's stage endpoints to sleep, or wake them, now (needs AWS credentials).

    python scripts/endpoint_sleep.py sleep --env dev     # make sleep ENV=dev
    python scripts/endpoint_sleep.py wake --env dev      # make wake ENV=dev

The same module the sleeper Lambda runs (lambdas/endpoint_sleeper/sleeper.py), with settings from the environment's
configuration. `sleep` deletes every awake stage endpoint (not while a promotion runs; nothing where `[cost]
endpoints_sleep` is false); `wake` creates each missing one on its newest release record's endpoint config, tagged
as the promotion workflow tags it. Prints one line per endpoint. Exit 0 (also when there is nothing to wake: a stage
without a release record says so), 1 when the promotion state machine is not deployed, 2 on a configuration error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from release import OperatorError, promotion_state_machine_arn

from config import ConfigError, EnvironmentConfig, load_environment
from constructs.promotion.tasks import sdk_tags
from lambdas.endpoint_sleeper.sleeper import Clients, Settings, sleep, wake


def settings_for(config: EnvironmentConfig, promotion_arn: str) -> Settings:
    """What the observability stack passes the Lambda (stacks/endpoint_sleep.py), plus what waking needs."""
    names = config.names
    return Settings(
        environment=config.name,
        enabled=config.cost.endpoints_sleep,
        endpoints=names.endpoints,
        endpoint_tags={stage: sdk_tags(config.mandatory_tags, stage=stage) for stage in names.endpoints},
        releases_table=names.releases_table,
        promotion_state_machine_arn=promotion_arn,
        idle_hours=config.cost.sleep_after_idle_hours,
    )


def clients_for(config: EnvironmentConfig) -> Clients:
    def client(service: str):
        return boto3.client(service, region_name=config.region)

    return Clients(
        sagemaker=client("sagemaker"),
        dynamodb=client("dynamodb"),
        cloudwatch=client("cloudwatch"),
        stepfunctions=client("stepfunctions"),
    )


def main(argv: list[str] | None = None, say=print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("sleep", "wake"))
    parser.add_argument("--env", required=True)
    args = parser.parse_args(argv)
    try:
        config = load_environment(args.env)
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    clients = clients_for(config)
    if args.action == "sleep" and not config.cost.endpoints_sleep:
        lines = sleep(clients, settings_for(config, ""), idle_only=False)  # says sleep is off, calls nothing
    else:
        try:
            settings = settings_for(config, promotion_state_machine_arn(config))
        except OperatorError as error:
            print(error, file=sys.stderr)
            return 1
        lines = sleep(clients, settings, idle_only=False) if args.action == "sleep" else wake(clients, settings)
    for line in lines:
        say(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
