"""The approval history of the local registry, kept in MLflow itself: one audit run per approve or reject.

Why audit runs and not model-version tags: a tag holds one value, so each change would overwrite the last one, while
a run is time-stamped, carries the user who made it (`mlflow.user`), holds its facts as params, which MLflow makes
write-once (logging a param again with another value is refused), is searchable (`search_runs` by model and
version), shows in the MLflow UI and travels with `make mlflow-backup`. Each approve/reject is one FINISHED run in the
experiment `exp_titanic-sagemaker_registry-audit`, named `run_<action>_v<version>`, with params model, version,
action, from_status, to_status, actor, changed_at, and the seed-004 tags: dataset, env and owner copied from the
version's training run, purpose = registry-audit. The version's `approval_status` tag stays the current state.
"""

from __future__ import annotations

import datetime
import getpass
from dataclasses import dataclass
from typing import Any

from ml.tracking import PROJECT, RUN_TAG_KEYS

AUDIT_EXPERIMENT = f"exp_{PROJECT}_registry-audit"
PURPOSE = "registry-audit"
FIELDS = ("model", "version", "action", "from_status", "to_status", "actor", "changed_at")


@dataclass(frozen=True)
class Change:
    model: str
    version: str
    action: str
    from_status: str
    to_status: str
    actor: str
    changed_at: str  # ISO 8601, UTC


def current_actor() -> str:
    """Who is changing the registry: the operating-system user running the command."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no USER/LOGNAME and no passwd entry (some containers)
        return "unknown"


def record(
    mlflow_client: Any,
    *,
    artifact_location: str | None,
    model: str,
    version: str,
    action: str,
    from_status: str,
    to_status: str,
    version_run_tags: dict[str, str],
) -> Change:
    """Write one audit run for a change that has just been made; the change as recorded."""
    change = Change(
        model=model,
        version=str(version),
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor=current_actor(),
        changed_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    experiment = mlflow_client.get_experiment_by_name(AUDIT_EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else mlflow_client.create_experiment(AUDIT_EXPERIMENT, artifact_location=artifact_location)
    )
    tags = {key: version_run_tags[key] for key in RUN_TAG_KEYS if key in version_run_tags}
    tags.update({"purpose": PURPOSE, "mlflow.user": change.actor})
    run = mlflow_client.create_run(experiment_id, run_name=f"run_{action}_v{change.version}", tags=tags)
    from mlflow.entities import Param  # imported late, as in ml/local/registry.py

    mlflow_client.log_batch(run.info.run_id, params=[Param(key, getattr(change, key)) for key in FIELDS])
    mlflow_client.set_terminated(run.info.run_id)
    return change


def history(mlflow_client: Any, model: str) -> dict[str, list[Change]]:
    """Every recorded change of `model`, by version, oldest first."""
    experiment = mlflow_client.get_experiment_by_name(AUDIT_EXPERIMENT)
    if experiment is None:
        return {}
    changes: dict[str, list[Change]] = {}
    token = None
    while True:
        page = mlflow_client.search_runs(
            [experiment.experiment_id],
            filter_string=f"params.model = '{model}'",
            order_by=["attributes.start_time ASC"],
            max_results=1000,
            page_token=token,
        )
        for run in page:
            params = run.data.params
            change = Change(**{key: params.get(key, "") for key in FIELDS})
            changes.setdefault(change.version, []).append(change)
        token = page.token
        if not token:
            return changes


def history_lines(registered_at_ms: int, changes: list[Change]) -> list[str]:
    """The history of one version as lines for `make models`: its registration, then each change."""
    registered = datetime.datetime.fromtimestamp(registered_at_ms / 1000, datetime.timezone.utc)
    lines = [
        f"    {registered.isoformat(timespec='seconds').replace('+00:00', 'Z')}  registered (PendingManualApproval)"
    ]
    for change in changes:
        lines.append(
            f"    {change.changed_at}  {change.action} by {change.actor}: {change.from_status} -> {change.to_status}"
        )
    return lines
