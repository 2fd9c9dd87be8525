"""Phases 04/06: the release history, read from the release records table (config.names `releases_table`; the
contract is docs/04-serving-ecs-sagemaker.md, "Release history"). The promotion workflow writes one item each time a
stage starts serving a package; the operator commands (scripts/release.py) read them here:

- `history(client, table, stage)`: a stage's records, newest first ([] when it never served a release);
- `rollback_target(records, version)`: the record a rollback of prod goes back to.

"What a stage serves now" is its newest record; "the last good one before current" is the second newest. After a
rollback the second newest is the package that was rolled back from, so the default target is refused then and the
operator names one (VERSION=n): a second `make rollback` never redeploys the package the first one removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields


class NoRollbackTarget(Exception):
    """The history names no package to go back to; the message says why and what to do."""


@dataclass(frozen=True)
class ReleaseRecord:
    stage: str
    released_at: str  # ISO-8601 UTC
    model_package_arn: str
    package_version: int
    model_name: str
    endpoint_name: str
    endpoint_config_name: str
    mode: str  # release | rollback | force
    execution_arn: str
    actor: str
    reason: str | None = None

    @classmethod
    def from_item(cls, item: dict) -> ReleaseRecord:
        """A record from a DynamoDB item in the low-level shape ({"stage": {"S": "prod"}, ...})."""
        values = {}
        for field in fields(cls):
            attribute = item.get(field.name)
            if attribute is None:
                continue
            (kind, value), *_ = attribute.items()
            values[field.name] = int(value) if kind == "N" else value
        return cls(**values)

    @property
    def version_text(self) -> str:
        return f"version {self.package_version} ({self.model_package_arn})"


def _items(client, table: str, stage: str) -> Iterator[dict]:
    request = {
        "TableName": table,
        "KeyConditionExpression": "#stage = :stage",
        "ExpressionAttributeNames": {"#stage": "stage"},
        "ExpressionAttributeValues": {":stage": {"S": stage}},
        "ScanIndexForward": False,  # newest released_at first
    }
    for page in client.get_paginator("query").paginate(**request):
        yield from page["Items"]


def history(client, table: str, stage: str, limit: int | None = None) -> list[ReleaseRecord]:
    """The stage's release records, newest first (at most `limit`)."""
    records = []
    for item in _items(client, table, stage):
        records.append(ReleaseRecord.from_item(item))
        if limit is not None and len(records) >= limit:
            break
    return records


def rollback_target(records: list[ReleaseRecord], version: int | None = None) -> ReleaseRecord:
    """The record to roll back to: the newest one of `version`, or by default the second newest (the release before
    the current one). `records`: prod's history, newest first."""
    if not records:
        raise NoRollbackTarget("prod has no release record yet: nothing to roll back")
    current = records[0]
    if version is not None:
        if version == current.package_version:
            raise NoRollbackTarget(f"prod already serves {current.version_text}")
        for record in records:
            if record.package_version == version:
                return record
        raise NoRollbackTarget(f"version {version} never served prod (make releases lists what did)")
    if len(records) < 2:
        raise NoRollbackTarget(f"prod has served only {current.version_text}: nothing to go back to")
    previous = records[1]
    if current.mode == "rollback":
        raise NoRollbackTarget(
            f"prod was rolled back to {current.version_text} by {current.actor} at {current.released_at}; the "
            f"release before it, version {previous.package_version}, is the one that rollback removed. Name the "
            "target: make rollback ENV=<env> VERSION=<n> (make releases ENV=<env> lists the history)"
        )
    if previous.model_package_arn == current.model_package_arn:
        raise NoRollbackTarget(
            f"the release before the current one served the same package ({current.version_text}); name the "
            "target: make rollback ENV=<env> VERSION=<n>"
        )
    return previous
