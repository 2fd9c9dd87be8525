#!/usr/bin/env python3
"""Phases 04/06: operator commands for the promotion workflow and the runtime resources it creates (needs AWS).

  release  --env ENV --package ARN|VERSION [--force --reason TEXT] [--actor NAME]
                                                       release an Approved package the way its approval does
                                                       (staging, approval gate, prod); --force skips the champion
                                                       check (a reason is required and recorded)
  approve  --env ENV --token TOKEN [--approver NAME]   let a release waiting at the approval gate go to prod
  reject   --env ENV --token TOKEN [--reason TEXT] [--rejecter NAME]
                                                       stop it; prod stays as it is
  rollback --env ENV [--stage prod] [--version N] [--reason TEXT] [--actor NAME]
                                                       redeploy a package prod served before: version N, or by
                                                       default the release before the current one
  releases --env ENV [--limit N]                       the release history of each stage, newest first
  cleanup  --env ENV [--target all|endpoints|models|configs] [--confirm]
                                                       list (default) or delete endpoints, endpoint configs and
                                                       models the workflow created: CloudFormation does not own them

The Makefile wraps these: make release / approve-release / reject-release / rollback / releases / cleanup. The
release history is read through scripts/release_records.py (the table the promotion workflow writes).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.exceptions

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from release_records import NoRollbackTarget, ReleaseRecord, history, rollback_target

from config import EnvironmentConfig, load_environment
from config.names import PROJECT, RELEASE_REJECTED_ERROR, STAGES

TARGETS = ("endpoints", "configs", "models")


class OperatorError(Exception):
    """A problem the operator can act on; printed without a traceback."""


def _client(service: str, config: EnvironmentConfig):
    return boto3.client(service, region_name=config.region)


# ---------------------------------------------------------------------------------------------- approval gate
def approve(config: EnvironmentConfig, token: str, approver: str) -> str:
    output = {"approved": True, "approved_by": approver}
    _client("stepfunctions", config).send_task_success(taskToken=token, output=json.dumps(output))
    return f"approved by {approver}: the release continues to {config.names.endpoint('prod')}"


def reject(config: EnvironmentConfig, token: str, reason: str, rejecter: str | None = None) -> str:
    # The cause ends in "(by <rejecter>)": the only place the execution records who rejected (make registry-audit).
    rejecter = rejecter or getpass.getuser()
    _client("stepfunctions", config).send_task_failure(
        taskToken=token, error=RELEASE_REJECTED_ERROR, cause=f"{reason[:32000]} (by {rejecter})"
    )
    return f"rejected ({reason}): the release stops, {config.names.endpoint('prod')} is unchanged"


# ---------------------------------------------------------------------------------------------- rollback
def promotion_state_machine_arn(config: EnvironmentConfig) -> str:
    name = config.names.promotion_state_machine
    for page in _client("stepfunctions", config).get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"]
    raise OperatorError(f"state machine {name} not found: is {config.names.stack('orchestration')} deployed?")


def release_history(config: EnvironmentConfig, stage: str, limit: int | None = None) -> list[ReleaseRecord]:
    """The stage's release records, newest first (the first one is what it serves now)."""
    return history(_client("dynamodb", config), config.names.releases_table, stage, limit)


def _refuse_while_running(config: EnvironmentConfig, machine_arn: str, what: str = "roll back") -> None:
    """One release at a time: the workflow would refuse an overlapping request too (ReleaseOverlap), with an alert."""
    running = _client("stepfunctions", config).list_executions(stateMachineArn=machine_arn, statusFilter="RUNNING")
    if running["executions"]:
        arns = ", ".join(execution["executionArn"] for execution in running["executions"])
        raise OperatorError(
            f"a release is running ({arns}): answer its approval request (make reject-release) or wait for it, "
            f"then {what}"
        )


# ---------------------------------------------------------------------------------------------- release
def package_arn(config: EnvironmentConfig, package: str) -> str:
    """A model package ARN, or a version number of this environment's model package group."""
    if package.isdigit():
        group = config.names.model_package_group
        account = config.account or _client("sts", config).get_caller_identity()["Account"]
        return f"arn:aws:sagemaker:{config.region}:{account}:model-package/{group}/{int(package)}"
    return package


def release(
    config: EnvironmentConfig, package: str, *, force: bool = False, actor: str = "operator", reason: str | None = None
) -> str:
    """Start the promotion workflow for an Approved package with the input its approval event gives, but the
    operator as actor; `force` skips the champion check (mode "force" in the release records)."""
    if force and not reason:
        raise OperatorError("a forced release skips the champion check: say why with REASON=... (--reason)")
    arn = package_arn(config, package)
    try:
        described = _client("sagemaker", config).describe_model_package(ModelPackageName=arn)
    except botocore.exceptions.ClientError as error:
        raise OperatorError(f"cannot read model package {arn}: {error}") from None
    group, status = described["ModelPackageGroupName"], described["ModelApprovalStatus"]
    if group != config.names.model_package_group or status != "Approved":
        raise OperatorError(
            f"{arn} is {status} in group {group}: only Approved packages of {config.names.model_package_group} "
            "are released (approve it in the model registry: that starts the release by itself)"
        )
    machine_arn = promotion_state_machine_arn(config)
    _refuse_while_running(config, machine_arn, "release")
    mode = "force" if force else "release"
    request = {"model_package_arn": arn, "mode": mode, "actor": actor}
    if reason:
        request["reason"] = reason
    version = described["ModelPackageVersion"]
    execution = _client("stepfunctions", config).start_execution(
        stateMachineArn=machine_arn, name=f"{mode}-v{version}-{uuid.uuid4().hex[:12]}", input=json.dumps(request)
    )
    check = "without the champion check (forced)" if force else "checked against the package prod serves"
    return f"releasing version {version} ({arn}), {check}\nexecution: {execution['executionArn']}"


def rollback(
    config: EnvironmentConfig,
    stage: str,
    version: int | None = None,
    actor: str = "operator",
    reason: str | None = None,
) -> str:
    """Start the promotion workflow in rollback mode (no staging, no approval gate) with the package of the chosen
    prod release record: `version`, or the release before the current one."""
    if stage != "prod":
        raise OperatorError("only STAGE=prod rolls back by command: staging is restored by the workflow itself")
    machine_arn = promotion_state_machine_arn(config)
    _refuse_while_running(config, machine_arn)
    records = release_history(config, "prod")
    try:
        target = rollback_target(records, version)
    except NoRollbackTarget as refused:
        raise OperatorError(str(refused)) from None
    request = {"model_package_arn": target.model_package_arn, "mode": "rollback", "actor": actor}
    if reason:
        request["reason"] = reason
    execution = _client("stepfunctions", config).start_execution(
        stateMachineArn=machine_arn,
        name=f"rollback-to-v{target.package_version}-{uuid.uuid4().hex[:12]}",  # findable in the console
        input=json.dumps(request),
    )
    return (
        f"rolling {config.names.endpoint('prod')} back from {records[0].version_text} to {target.version_text}, "
        f"released {target.released_at}\nexecution: {execution['executionArn']}"
    )


def releases_table(records: dict[str, list[ReleaseRecord]]) -> str:
    """The history as a text table, one block per stage (newest first; the first row is what it serves now)."""
    header = ("released at", "version", "mode", "actor", "endpoint config", "reason")
    lines = []
    for stage, stage_records in records.items():
        rows = [
            (r.released_at, str(r.package_version), r.mode, r.actor, r.endpoint_config_name, r.reason or "")
            for r in stage_records
        ]
        widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
        lines.append(f"{stage}: {len(rows)} release(s)" + ("" if rows else " (none yet)"))
        if rows:
            for row in (header, *rows):
                lines.append("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        lines.append("")
    return "\n".join(lines).rstrip()


# ---------------------------------------------------------------------------------------------- cleanup
@dataclass(frozen=True)
class Found:
    kind: str  # endpoint | config | model
    name: str


def _ours(sagemaker, arn: str, config: EnvironmentConfig) -> bool:
    tags = {tag["Key"]: tag["Value"] for tag in sagemaker.list_tags(ResourceArn=arn).get("Tags", [])}
    return tags.get("project") == PROJECT and tags.get("env") == config.name


def _list(sagemaker, operation: str, key: str, name_key: str, arn_key: str, config: EnvironmentConfig) -> list[str]:
    names = []
    for page in sagemaker.get_paginator(operation).paginate(NameContains=config.prefix):
        for item in page[key]:
            if item[name_key].startswith(f"{config.prefix}-") and _ours(sagemaker, item[arn_key], config):
                names.append(item[name_key])
    return sorted(names)


def find(config: EnvironmentConfig, targets: Iterable[str]) -> list[Found]:
    """Runtime resources of this environment: name prefix titanic-<env>- AND tags project/env. In-use configs and
    models (those an endpoint that stays still needs) are never listed for deletion."""
    sagemaker = _client("sagemaker", config)
    targets = set(targets)
    endpoints = _list(sagemaker, "list_endpoints", "Endpoints", "EndpointName", "EndpointArn", config)
    configs = _list(
        sagemaker, "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", "EndpointConfigArn", config
    )
    models = _list(sagemaker, "list_models", "Models", "ModelName", "ModelArn", config)

    staying = [name for name in endpoints if "endpoints" not in targets]
    in_use_configs = {sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"] for name in staying}
    in_use_models = {
        variant["ModelName"]
        for name in in_use_configs
        for variant in sagemaker.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"]
    }
    found = [Found("endpoint", name) for name in endpoints if "endpoints" in targets]
    found += [Found("config", name) for name in configs if "configs" in targets and name not in in_use_configs]
    found += [Found("model", name) for name in models if "models" in targets and name not in in_use_models]
    return found


def cleanup(config: EnvironmentConfig, target: str, confirm: bool, say: Callable[[str], None] = print) -> list[Found]:
    found = find(config, TARGETS if target == "all" else [target])
    verb = "deleting" if confirm else "would delete"
    for item in found:
        say(f"{verb} {item.kind} {item.name}")
    if not found:
        say(f"nothing to clean up for {config.prefix} ({target})")
    if not confirm:
        if found:
            say("dry run: nothing deleted. Run again with CONFIRM=yes (--confirm) to delete.")
        return found
    sagemaker = _client("sagemaker", config)
    delete = {
        "endpoint": lambda name: sagemaker.delete_endpoint(EndpointName=name),
        "config": lambda name: sagemaker.delete_endpoint_config(EndpointConfigName=name),
        "model": lambda name: sagemaker.delete_model(ModelName=name),
    }
    for item in found:  # endpoints first, then their configs, then models (the order find() returns)
        delete[item.kind](item.name)
    return found


# ---------------------------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("release", "approve", "reject", "rollback", "releases", "cleanup"):
        command = commands.add_parser(name)
        command.add_argument("--env", required=True)
        if name == "release":
            command.add_argument("--package", required=True, help="model package ARN or version number")
            command.add_argument("--force", action="store_true", help="skip the champion check (needs --reason)")
        if name in ("release", "rollback"):
            command.add_argument("--reason", help="why (kept in the release record)")
            command.add_argument("--actor", default=f"operator:{getpass.getuser()}")
        if name in ("approve", "reject"):
            command.add_argument("--token", required=True, help="the task_token of the approval request message")
        if name == "approve":
            command.add_argument("--approver", default=getpass.getuser())
        if name == "reject":
            command.add_argument("--reason", default="rejected by the approver")
            command.add_argument("--rejecter", default=getpass.getuser())
        if name == "rollback":
            command.add_argument("--stage", default="prod")
            command.add_argument("--version", type=int, help="the package version to go back to (make releases)")
        if name == "releases":
            command.add_argument("--limit", type=int, default=20, help="records per stage")
        if name == "cleanup":
            command.add_argument("--target", choices=("all", *TARGETS), default="all")
            command.add_argument("--confirm", action="store_true", help="delete (default: list only)")
    args = parser.parse_args(argv)
    try:
        config = load_environment(args.env)
        if args.command == "release":
            print(release(config, args.package, force=args.force, actor=args.actor, reason=args.reason))
        elif args.command == "approve":
            print(approve(config, args.token, args.approver))
        elif args.command == "reject":
            print(reject(config, args.token, args.reason, args.rejecter))
        elif args.command == "rollback":
            print(rollback(config, args.stage, args.version, args.actor, args.reason))
        elif args.command == "releases":
            print(releases_table({stage: release_history(config, stage, args.limit) for stage in reversed(STAGES)}))
        else:
            cleanup(config, args.target, args.confirm)
    except OperatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
