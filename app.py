#!/usr/bin/env python3
"""Phases 00-07: the CDK app: every selected environment's stacks, tagged, checked by cdk-nag and the tags rule.

`cdk synth` (or `python app.py`) builds all environments; `-c env=NAME` or `ENV=NAME` builds one.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

import stacks  # noqa: F401  (makes the project's constructs/ folder importable)
from config import ConfigError, EnvironmentConfig, select_environments
from constructs.compliance import check_mandatory_tags
from stacks.environment import EnvironmentStacks, build_environment

# Context and feature flags live here, not in cdk.json, so that `python app.py`, the CDK CLI and the tests
# build identical templates.
FEATURE_FLAGS = {
    "aws:cdk:version-reporting": False,  # no CDKMetadata resource: templates stay identical across CDK patch releases
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/core:checkSecretUsage": True,
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-s3:createDefaultLoggingPolicy": True,
    "@aws-cdk/aws-kms:aliasNameRef": True,
    "@aws-cdk/core:target-partitions": ["aws"],
}


def create_app(
    configs: Sequence[EnvironmentConfig], outdir: str | None = None, *, nag: bool = True
) -> tuple[App, list[EnvironmentStacks]]:
    """The app with every stack of `configs`. `nag=False` only for scripts/synth_phases.py, which measures cdk-nag's
    share of a synthesis by leaving it out once."""
    # aws-cdk-lib's built-in CloudFormation Validate (a port of cfn-lint's rules) only warns unless a flag is set, and
    # builds its engine in every synthesis (~7 s of ~21). cfn-lint itself validates every template, errors failing, in
    # `make test`, CI and before `make deploy` (.cfnlintrc.yaml; tests/infra/test_template_validation.py).
    app = App(outdir=outdir, context=FEATURE_FLAGS, builtin_cloud_formation_validation=False)
    built = [build_environment(app, config) for config in configs]
    check_mandatory_tags(app)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, built


def main() -> int:
    context_app = App()  # only to read `-c env=...` passed by the CDK CLI
    try:
        configs = select_environments(context_app.node.try_get_context("env"))
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    app, _ = create_app(configs)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
