"""Phase 00/06/07: the names of resources derived from another resource's name (log groups, dead-letter queues,
alarms) and the runbook phrase every alarm description ends with, spelled once.

Split from config/names.py (the `Names` class: the names of one environment) to keep both modules short; like it,
CDK-free and import-light.
"""

from __future__ import annotations


def state_machine_log_group(state_machine: str) -> str:
    """Step Functions vended logs need the /aws/vendedlogs/ prefix for their resource policy to fit."""
    return f"/aws/vendedlogs/states/{state_machine}"


def executions_failed_alarm(state_machine: str) -> str:
    return f"{state_machine}-executions-failed"


# Phase 06: every alarm (and every other alert source) names the runbook an on-call person follows, in this fixed
# phrase at the end of its description; tests/infra/test_runbooks.py checks both directions (docs/runbooks/).
RUNBOOKS_FOLDER = "docs/runbooks"
RUNBOOK_TAG = "runbook"  # alert sources without a description (a budget) carry the runbook's path in this tag


def runbook_path(name: str) -> str:
    return f"{RUNBOOKS_FOLDER}/{name}.md"


def runbook(name: str) -> str:
    """`Runbook: docs/runbooks/<name>.md`, the phrase an alarm description ends with."""
    return f"Runbook: {runbook_path(name)}"


def with_runbook(description: str, name: str) -> str:
    """An alarm description naming its runbook (CloudWatch keeps up to 1024 characters)."""
    text = f"{description.rstrip('. ')}. {runbook(name)}"
    if len(text) > 1024:
        raise ValueError(f"alarm description over 1024 characters: {text[:80]}...")
    return text


# Phase 07: account-wide log groups every SageMaker job of the account and region writes (docs/07, "Logs").
SAGEMAKER_JOB_LOG_GROUPS = ("/aws/sagemaker/TrainingJobs", "/aws/sagemaker/ProcessingJobs")


def endpoint_log_group(endpoint: str) -> str:
    """SageMaker names each endpoint's log group /aws/sagemaker/Endpoints/<endpoint>."""
    return f"/aws/sagemaker/Endpoints/{endpoint}"


def lambda_log_group(function: str) -> str:
    return f"/aws/lambda/{function}"


def dead_letter_queue(function: str) -> str:
    return f"{function}-dlq"


def lambda_alarm(function: str, kind: str) -> str:
    """An alarm on one Lambda function's own metric (kind: errors, throttles)."""
    return f"{function}-{kind}"


def queue_not_empty_alarm(queue: str) -> str:
    return f"{queue}-not-empty"
