"""Phase 03 (seed 004): the registry audit log: every state change of this environment's model packages (created,
approved, rejected) and every execution of its promotion workflow (release, approve/reject at the gate, rollback,
force), as the events AWS publishes, in one append-only log group per environment.

Who, what, when: a model package event carries the package, its approval status and description, and the times;
SageMaker adds who created or last modified it where it knows (`CreatedBy`, `LastModifiedBy`). A Step Functions event
carries the execution's input (the package, the mode and, per docs/04's release records contract, the actor), its
status and, when it ends, its output (the approver of `make approve-release`) or error. `make registry-audit`
(scripts/registry_audit.py) prints them with the release records.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack

from config import EnvironmentConfig
from constructs.event_audit_log import AuditedEvents, EventAuditLog
from stacks.foundation import Foundation

PACKAGE_EVENT = ("aws.sagemaker", "SageMaker Model Package State Change")
EXECUTION_EVENT = ("aws.states", "Step Functions Execution Status Change")


def registry_audit(stack: Stack, config: EnvironmentConfig, foundation: Foundation) -> EventAuditLog:
    names = config.names
    # Named, not referenced: the promotion workflow belongs to the orchestration stack, deployed after this one.
    promotion = stack.format_arn(
        service="states",
        resource="stateMachine",
        resource_name=names.promotion_state_machine,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    return EventAuditLog(
        stack,
        "RegistryAudit",
        log_group_name=names.registry_audit_log_group,
        retention_days=config.mlflow.audit_log_retention_days,
        key=foundation.key,
        destroy_on_delete=config.destroy_on_delete,
        policy_name=names.registry_audit_policy,
        audited=[
            AuditedEvents(
                construct_id="PackageChanges",
                rule_name=names.registry_audit_rule("packages"),
                description=names.description(f"audit: every state change of {names.model_package_group} packages"),
                pattern={
                    "source": [PACKAGE_EVENT[0]],
                    "detail-type": [PACKAGE_EVENT[1]],
                    "detail": {"ModelPackageGroupName": [names.model_package_group]},
                },
            ),
            AuditedEvents(
                construct_id="ReleaseExecutions",
                rule_name=names.registry_audit_rule("releases"),
                description=names.description(f"audit: every status change of {names.promotion_state_machine}"),
                pattern={
                    "source": [EXECUTION_EVENT[0]],
                    "detail-type": [EXECUTION_EVENT[1]],
                    "detail": {"stateMachineArn": [promotion]},
                },
            ),
        ],
    )
