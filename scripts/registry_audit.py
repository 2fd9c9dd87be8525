#!/usr/bin/env python3
"""Phases 03/04 (seed 004): print who changed what in an environment's model registry and releases, and when
(needs AWS credentials; `make registry-audit ENV=... [SINCE=...]`).

    python scripts/registry_audit.py --env ENV [--since 2026-11-01 | 2026-11-01T08:00:00Z | 7d | 12h]

Two sources, both append-only: the registry audit log group (`/aws/events/titanic-<env>-registry-audit`, written by
EventBridge with every model package state change and every promotion workflow execution status change; see
stacks/training_audit.py), read with FilterLogEvents; and the release records table (`titanic-<env>-releases`, one
item per time a stage started serving a package), read with Query per stage. A table that does not exist yet (no
serving stack deployed) is reported and skipped. SINCE defaults to 30 days.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import boto3
from boto3.dynamodb.conditions import Key

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import ConfigError, EnvironmentConfig, load_environment
from config.names import STAGES

DEFAULT_SINCE = "30d"
RELATIVE = re.compile(r"^(?P<count>\d+)(?P<unit>[dh])$")
PACKAGE_VERSION = re.compile(r":model-package/[^/]+/(?P<version>\d+)$")
UNKNOWN = "unknown"
REJECTED_BY = re.compile(r"\(by (?P<who>[^()]+)\)$")


class AuditError(Exception):
    """A problem the operator can act on; printed without a traceback."""


@dataclass(frozen=True)
class Entry:
    when: str  # ISO 8601 UTC, as the event or record states it
    who: str
    what: str


# ---------------------------------------------------------------------------------------------- time window
def parse_since(text: str, now: datetime.datetime) -> datetime.datetime:
    """`7d`, `12h`, a date (`2026-11-01`, midnight UTC) or an ISO 8601 time."""
    match = RELATIVE.match(text)
    if match:
        unit = "days" if match["unit"] == "d" else "hours"
        return now - datetime.timedelta(**{unit: int(match["count"])})
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AuditError(f"SINCE={text!r}: expected 7d, 12h, 2026-11-01 or 2026-11-01T08:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------- audit log events
def _version(package_arn: str) -> str:
    match = PACKAGE_VERSION.search(package_arn or "")
    return f"v{match['version']}" if match else (package_arn or "?")


def _identity(user_context: dict | None) -> str | None:
    """Who SageMaker says made a model package change (UserContext), if it says."""
    if not user_context:
        return None
    identity = user_context.get("IamIdentity") or {}
    return identity.get("Arn") or user_context.get("UserProfileName") or identity.get("PrincipalId")


def package_entry(event: dict) -> Entry:
    """A SageMaker Model Package State Change: created (PendingManualApproval at registration), approved, rejected."""
    detail = event.get("detail", {})
    status = detail.get("ModelApprovalStatus", "?")
    created = detail.get("LastModifiedTime") in (None, detail.get("CreationTime"))
    verb = "registered" if created else {"Approved": "approved", "Rejected": "rejected"}.get(status, "set to")
    what = f"{detail.get('ModelPackageGroupName', '?')} {_version(detail.get('ModelPackageArn', ''))} {verb}"
    what += f" ({status})" if verb in ("registered", "set to") else ""
    if detail.get("ApprovalDescription"):
        what += f": {detail['ApprovalDescription']}"
    who = _identity(detail.get("CreatedBy") if created else detail.get("LastModifiedBy"))
    api = "CreateModelPackage" if created else "UpdateModelPackage"
    return Entry(event.get("time", "?"), who or f"{UNKNOWN} (CloudTrail: {api})", what)


def _json(text: str | None) -> dict:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def execution_entry(event: dict) -> Entry:
    """A promotion workflow execution status change: what was asked (input), how it ended (output or error)."""
    detail = event.get("detail", {})
    given, result = _json(detail.get("input")), _json(detail.get("output"))
    mode = given.get("mode", "release")
    subject = f"{mode} of {_version(given.get('model_package_arn', ''))} ({detail.get('name', '?')})"
    status = detail.get("status", "?")
    who = given.get("actor") or UNKNOWN
    if status == "RUNNING":
        what = f"{subject} started"
    elif status == "SUCCEEDED" and "rejection" in result:
        # make reject-release writes "<reason> (by <who>)" as the cause (scripts/release.py).
        cause = str(result["rejection"].get("Cause", ""))
        what = f"{subject} rejected at the approval gate: {cause}"
        match = REJECTED_BY.search(cause)
        who = match["who"] if match else f"{UNKNOWN} (CloudTrail: SendTaskFailure)"
    elif status == "SUCCEEDED":
        approval = result.get("approval") or {}
        what = f"{subject} succeeded"
        if approval.get("approved"):
            what += f", approved by {approval.get('approved_by', UNKNOWN)}"
    else:
        failure = ": ".join(part for part in (detail.get("error"), detail.get("cause")) if part)
        what = f"{subject} {status}" + (f": {failure}" if failure else "")
    return Entry(event.get("time", "?"), who, what)


def entries(events: Iterable[dict]) -> list[Entry]:
    """The audit entries of the events the audit rules wrote, oldest first (other events are ignored)."""
    readers = {
        "SageMaker Model Package State Change": package_entry,
        "Step Functions Execution Status Change": execution_entry,
    }
    found = [readers[e["detail-type"]](e) for e in events if e.get("detail-type") in readers]
    return sorted(found, key=lambda entry: entry.when)


def audit_events(logs, log_group: str, since: datetime.datetime) -> list[dict]:
    """Every event of the audit log group since `since` (all pages)."""
    found = []
    start = int(since.timestamp() * 1000)
    try:
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=log_group, startTime=start):
            for item in page.get("events", []):
                event = _json(item.get("message"))
                if event:
                    found.append(event)
    except logs.exceptions.ResourceNotFoundException:
        raise AuditError(f"log group {log_group} not found: is the training stack deployed?") from None
    return found


# ---------------------------------------------------------------------------------------------- release records
def release_entries(dynamodb, table_name: str, since: datetime.datetime) -> list[Entry] | None:
    """The release records since `since`, oldest first; None when the table does not exist (yet)."""
    table = dynamodb.Table(table_name)
    found = []
    try:
        for stage in STAGES:
            condition = Key("stage").eq(stage) & Key("released_at").gte(_iso(since))
            request = {"KeyConditionExpression": condition}
            while True:
                page = table.query(**request)
                found += [_record_entry(item) for item in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    except dynamodb.meta.client.exceptions.ResourceNotFoundException:
        return None
    return sorted(found, key=lambda entry: entry.when)


def _record_entry(item: dict) -> Entry:
    version = item.get("package_version")
    what = (
        f"{item.get('stage', '?')} serves v{int(version) if version is not None else '?'} "
        f"({item.get('mode', '?')}) on {item.get('endpoint_config_name', '?')}"
    )
    if item.get("reason"):
        what += f": {item['reason']}"
    return Entry(str(item.get("released_at", "?")), str(item.get("actor", UNKNOWN)), what)


# ---------------------------------------------------------------------------------------------- report
def report(config: EnvironmentConfig, since: datetime.datetime, session=None) -> list[str]:
    session = session or boto3.session.Session(region_name=config.region)
    names = config.names
    lines = [f"Registry audit of {config.prefix} since {_iso(since)}", ""]
    logged = entries(audit_events(session.client("logs"), names.registry_audit_log_group, since))
    lines += _section(f"registry and release events ({names.registry_audit_log_group})", logged)
    records = release_entries(session.resource("dynamodb"), names.releases_table, since)
    if records is None:
        lines += [f"release records ({names.releases_table}): table not found (not deployed yet); skipped"]
    else:
        lines += _section(f"release records ({names.releases_table})", records)
    return lines


def _section(title: str, found: list[Entry]) -> list[str]:
    if not found:
        return [f"{title}: none", ""]
    width = max(len(entry.who) for entry in found)
    return [f"{title}: {len(found)}"] + [f"  {e.when}  {e.who:<{width}}  {e.what}" for e in found] + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True)
    parser.add_argument("--since", default=DEFAULT_SINCE)
    args = parser.parse_args(argv)
    try:
        config = load_environment(args.env)
        since = parse_since(args.since, datetime.datetime.now(datetime.UTC))
        print("\n".join(report(config, since)).rstrip())
    except (AuditError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
