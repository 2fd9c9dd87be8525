"""Phases 04 and 06: Step Functions pieces both workflows share: the failure tail, the poll-until-settled loop, the
input defaults and the guard against overlapping executions.

The workflows are written as `sfn.StateMachineFragment`s (subclasses of `Fragment` here) chained in execution
order. Pieces CDK does not ship:
- `Fragment`: a fragment that names its first state and its ends as it builds them;
- `ChoiceExit`: a fragment end that is a branch of a Choice (chaining the fragment adds that branch), so a fragment
  can end in a decision without an extra Pass state;
- `FailureTail`: every handled failure records `$.failure {error, cause}`, alerts a human, and fails the execution
  with that error and cause;
- `PollUntilSettled`: Wait -> Describe -> Choice until a resource leaves its in-progress statuses;
- `sdk_call`: an AWS SDK integration task whose IAM action is spelt the way IAM spells it.
- `with_defaults`: the execution input merged over default values (optional fields need no IsPresent checks);
- `OldestRunningOnly`: an execution goes on only if it is the oldest running execution of its state machine.

Rendering note: CDK lists a definition's states in the order it discovers them, walking each state's incoming edges
(in the order they were connected) before its outgoing ones. Reordering how states are connected can reorder the
rendered JSON without changing the graph; the template snapshots show it (they stayed byte-identical through the
split into fragments).
"""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct


class Fragment(sfn.StateMachineFragment):
    """A fragment that sets `self._start` (its first state) and `self._ends` (its ends, INextable) as it builds."""

    _ends: tuple[sfn.INextable, ...] = ()

    @property
    def start_state(self) -> sfn.State:
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        return list(self._ends)


# SDK service names whose IAM prefix differs (the ones this project calls; CDK's CallAwsService maps the same way).
IAM_PREFIXES = {"sfn": "states"}


def iam_action(service: str, action: str) -> str:
    """`sagemaker`, `describeEndpoint` -> `sagemaker:DescribeEndpoint`: the SDK integration names the action in camel
    case, IAM (and the service authorization reference) in Pascal case."""
    return f"{IAM_PREFIXES.get(service, service)}:{action[:1].upper()}{action[1:]}"


def sdk_call(scope: Construct, state_id: str, *, service: str, action: str, **kwargs) -> tasks.CallAwsService:
    """`tasks.CallAwsService` with `iam_action` spelt as IAM spells it, unless given (an action whose IAM name
    differs from the API's). CDK's default copies the camel-case SDK name (`ssm:getParameter`): IAM matches it
    case-insensitively, but policy analyzers look actions up case-sensitively and read an unknown one as unscoped
    (checkov CKV_AWS_108 flagged a GetParameter limited to one parameter)."""
    kwargs.setdefault("iam_action", iam_action(service, action))
    return tasks.CallAwsService(scope, state_id, service=service, action=action, **kwargs)


ALL_ERRORS = sfn.Errors.ALL  # read once: every read of a jsii constant is a call to the kernel


def catch_all() -> dict:
    """add_catch arguments for "any error": the error object goes to $.error, where failures read its Cause."""
    return {"errors": [ALL_ERRORS], "result_path": "$.error"}


def error_cause() -> str:
    """The Cause of the error a catch-all stored in $.error."""
    return sfn.JsonPath.string_at("$.error.Cause")


@jsii.implements(sfn.INextable)
class ChoiceExit:
    """The end of a fragment that is a branch of `choice`: `condition`, or the otherwise branch when None.

    `fragment.next(state)` (or a Chain through the fragment) connects the branch to `state`.
    """

    def __init__(self, choice: sfn.Choice, condition: sfn.Condition | None = None) -> None:
        self._choice = choice
        self._condition = condition

    def next(self, state: sfn.IChainable) -> sfn.Chain:
        if self._condition is None:
            self._choice.otherwise(state)
        else:
            self._choice.when(self._condition, state)
        return sfn.Chain.start(state)


class FailureTail(Fragment):
    """Alert, then fail with `$.failure.error` / `$.failure.cause`. States join it through `failure(...)`.

    `alert`: the states that tell a human (their last one is chained to the Fail state), e.g. an SNS publish.
    """

    def __init__(self, scope: Construct, construct_id: str, *, alert: Sequence[sfn.State], fail_state_id: str) -> None:
        super().__init__(scope, construct_id)
        chain = sfn.Chain.start(alert[0])
        for state in alert[1:]:
            chain = chain.next(state)
        chain.next(sfn.Fail(self, fail_state_id, error_path="$.failure.error", cause_path="$.failure.cause"))
        self._start = alert[0]

    def failure(self, scope: Construct, state_id: str, error: str, cause: str) -> sfn.Chain:
        """A Pass (in `scope`) that sets $.failure to {error, cause} and joins the tail.

        `cause` is literal text or a JsonPath expression (`sfn.JsonPath.format`, `error_cause()`).
        """
        return sfn.Pass(scope, state_id, parameters={"error": error, "cause": cause}, result_path="$.failure").next(
            self
        )


class PollUntilSettled(Fragment):
    """Wait -> `poll` (a Describe call) -> Choice: back to Wait while `in_progress`; the fragment's end when
    `settled`; `otherwise` anything else. Waiting this way (not `.sync`) behaves the same in AWS and under moto.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        wait_state_id: str,
        interval: Duration,
        poll: sfn.TaskStateBase,
        choice_state_id: str,
        in_progress: sfn.Condition,
        settled: sfn.Condition,
        otherwise: sfn.IChainable,
    ) -> None:
        super().__init__(scope, construct_id)
        wait = sfn.Wait(self, wait_state_id, time=sfn.WaitTime.duration(interval))
        choice = sfn.Choice(self, choice_state_id).when(in_progress, wait).otherwise(otherwise)
        wait.next(poll).next(choice)
        self._start, self._ends = wait, (ChoiceExit(choice, settled),)


def with_defaults(scope: Construct, state_id: str, defaults_json: str) -> sfn.Pass:
    """A Pass whose output is `defaults_json` (a JSON object, as text) with the execution input merged over it."""
    return sfn.Pass(
        scope,
        state_id,
        parameters={
            "merged": sfn.JsonPath.json_merge(sfn.JsonPath.string_to_json(defaults_json), sfn.JsonPath.entire_payload)
        },
        output_path="$.merged",
    )


class OldestRunningOnly(Fragment):
    """ListExecutions (RUNNING) of this state machine -> the oldest of them -> Choice: this execution goes on (the
    fragment's end) only when it is that oldest one; any other goes to `skipped`.

    Skipping every execution but the oldest (rather than every execution that sees another) means two executions
    started at the same moment, such as duplicate events, cannot both stop: exactly one of them goes on. Step Functions
    lists the most recent first, so the oldest is the last one listed. A failed listing joins `failed`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine_arn: str,
        state_ids: tuple[str, str, str],  # the ListExecutions task, the Pass naming the oldest, the Choice
        skipped: sfn.IChainable,
        failed: FailureTail,
        failure_error: str,
    ) -> None:
        super().__init__(scope, construct_id)
        list_id, oldest_id, choice_id = state_ids
        running = tasks.CallAwsService(
            self,
            list_id,
            service="sfn",
            action="listExecutions",
            iam_action="states:ListExecutions",
            parameters={"StateMachineArn": state_machine_arn, "StatusFilter": "RUNNING"},
            iam_resources=[state_machine_arn],
            result_selector={"arns.$": "$.Executions[*].ExecutionArn"},
            result_path="$.running",
        )
        running.add_catch(failed.failure(self, f"{list_id}Failed", failure_error, error_cause()), **catch_all())
        # Written as the intrinsic itself: CDK's math_add takes literal numbers only, not a length token.
        arns = "$.running.arns"
        oldest = sfn.Pass(
            self,
            oldest_id,
            parameters={
                "oldest.$": f"States.ArrayGetItem({arns}, States.MathAdd(States.ArrayLength({arns}), -1))",
                "me": sfn.JsonPath.execution_id,
            },
            result_path="$.running",
        )
        choice = sfn.Choice(self, choice_id).otherwise(skipped)
        running.next(oldest).next(choice)
        self._start = running
        self._ends = (ChoiceExit(choice, sfn.Condition.string_equals_json_path("$.running.oldest", "$.running.me")),)
