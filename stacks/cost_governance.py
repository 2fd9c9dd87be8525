"""Phase 07: the environment's monthly budget and the weekly orphan report, both alerting the alerts topic.

The budget counts only what carries the project's and the environment's tags (an AND of two tags needs the budget's
FilterExpression; CostFilters would OR them). Tags count only once activated as cost-allocation tags in the billing
console; until then a tag-filtered budget reads $0 (docs/07-cost-governance.md). budgets.amazonaws.com may publish to
the encrypted topic by the statements stacks/foundation.py adds to the topic and key policies.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam

from config import EnvironmentConfig
from config.names import PROJECT
from config.resource_names import RUNBOOK_TAG, SAGEMAKER_JOB_LOG_GROUPS, runbook, runbook_path
from constructs import Construct
from constructs.compliance import MANDATORY_TAG_KEYS
from constructs.grants import PolicyGrants
from constructs.python_function import PowertoolsFunction
from constructs.schedules import schedule, scheduler_role
from stacks.foundation import Foundation

NO_RESOURCE_LEVEL = (
    "the List* calls of SageMaker, tag:GetResources, cloudwatch:GetMetricStatistics and logs:DescribeLogGroups have "
    "no resource-level permissions (AWS service authorization reference); the report only reads"
)
BUDGET_RUNBOOK = "budget-alert"
ORPHAN_RUNBOOK = "orphan-found"


def monthly_budget(scope: Construct, config: EnvironmentConfig, foundation: Foundation) -> budgets.CfnBudget:
    settings, names = config.cost, config.names
    subscribers = [
        budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=foundation.alerts_topic.topic_arn)
    ]
    notifications = [("ACTUAL", percent) for percent in settings.actual_alert_percents]
    notifications.append(("FORECASTED", settings.forecast_alert_percent))
    tags = [("project", PROJECT), ("env", config.name)]
    return budgets.CfnBudget(
        scope,
        "MonthlyBudget",
        budget=budgets.CfnBudget.BudgetDataProperty(
            budget_name=names.budget,
            budget_type="COST",
            time_unit="MONTHLY",
            budget_limit=budgets.CfnBudget.SpendProperty(amount=settings.monthly_budget_usd, unit="USD"),
            filter_expression=budgets.CfnBudget.ExpressionProperty(
                and_=[
                    budgets.CfnBudget.ExpressionProperty(
                        tags=budgets.CfnBudget.TagValuesProperty(key=key, values=[value], match_options=["EQUALS"])
                    )
                    for key, value in tags
                ]
            ),
        ),
        notifications_with_subscribers=[
            budgets.CfnBudget.NotificationWithSubscribersProperty(
                notification=budgets.CfnBudget.NotificationProperty(
                    notification_type=kind,
                    comparison_operator="GREATER_THAN",
                    threshold=percent,
                    threshold_type="PERCENTAGE",
                ),
                subscribers=subscribers,
            )
            for kind, percent in notifications
        ],
        # A budget has no description: it names its runbook in a tag (tests/infra/test_runbooks.py reads both).
        resource_tags=[budgets.CfnBudget.ResourceTagProperty(key=RUNBOOK_TAG, value=runbook_path(BUDGET_RUNBOOK))],
    )


ORPHAN_NO_RESERVATION = (
    "Started once a week by its schedule (or by hand through make orphans, which runs the module locally, not this "
    "function), so it never runs beside itself; a reservation caps nothing and fails the first deploy of a new "
    "account (Lambda concurrency quota 10)."
)


def orphan_report(scope: Construct, config: EnvironmentConfig, foundation: Foundation) -> PowertoolsFunction:
    """The weekly report (lambdas/orphan_report/), read-only, and the schedule that runs it."""
    names, cost = config.names, config.cost
    function = PowertoolsFunction(
        scope,
        "OrphanReport",
        function_name=names.orphan_report_function,
        source="lambdas/orphan_report",
        shared_files=("lambdas/orphan_report/orphans.py",),
        description="Weekly report of what costs money and no release record references (never deletes)",
        key=foundation.key,
        log_retention_days=config.log_retention_days,
        destroy_on_delete=config.destroy_on_delete,
        timeout=Duration.minutes(5),
        retry_attempts=0,  # a weekly read-only report: next week's run is the retry
        no_reservation_reason=ORPHAN_NO_RESERVATION,
        environment={
            "ENVIRONMENT_NAME": config.name,
            "PROJECT": PROJECT,
            "NAME_PREFIX": f"{names.prefix}-",
            "RELEASES_TABLE": names.releases_table,
            "PIPELINE_NAME": names.pipeline,
            "EXPECTED_MLFLOW_SERVERS": names.mlflow_tracking_server if config.mlflow.tracking == "server" else "",
            "MLFLOW_APPS_EXPECTED": "true" if config.mlflow.tracking == "app" else "false",
            "MANDATORY_TAGS": ",".join(MANDATORY_TAG_KEYS),
            "IDLE_DAYS": str(cost.orphan_idle_days),
            "JOB_LOG_GROUPS": ",".join(SAGEMAKER_JOB_LOG_GROUPS),
            "LOG_RETENTION_DAYS": str(config.log_retention_days),
            "ALERTS_TOPIC_ARN": foundation.alerts_topic.topic_arn,
            "RUNBOOK": runbook(ORPHAN_RUNBOOK),
        },
    )
    _grant_reads(Stack.of(scope), config, function, foundation)
    _schedule(scope, config, function)
    return function


def _grant_reads(stack: Stack, config: EnvironmentConfig, function: PowertoolsFunction, foundation: Foundation) -> None:
    names = config.names

    def sagemaker(resource: str, name: str) -> str:
        return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

    why = (
        f"the promotion workflow creates these at run time under the environment's prefix (endpoints {names.prefix}-"
        f"<stage>, configs {names.prefix}-<stage>-<release id>, models {names.prefix}-<release id>); the report only "
        "describes them and lists their tags"
    )
    own = {sagemaker(kind, f"{names.prefix}-*"): why for kind in ("endpoint", "endpoint-config", "model")}
    # Its own policy, not the role's default one: that one's Resource "*" is X-Ray's alone, with that reason.
    grants = PolicyGrants(iam.Policy(stack, "OrphanReportReads", roles=[function.role]))
    grants.add(
        iam.PolicyStatement(
            sid="ListWhatCostsMoney",
            actions=[
                "sagemaker:ListEndpoints",
                "sagemaker:ListEndpointConfigs",
                "sagemaker:ListModels",
                "sagemaker:ListTrainingJobs",
                "sagemaker:ListProcessingJobs",
                "sagemaker:ListMlflowTrackingServers",
                "sagemaker:ListMlflowApps",
                "tag:GetResources",
                "cloudwatch:GetMetricStatistics",
                "logs:DescribeLogGroups",
            ],
            resources=["*"],
        ),
        because=NO_RESOURCE_LEVEL,
    )
    grants.add(
        iam.PolicyStatement(
            sid="DescribeOwnHosting",
            actions=["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:ListTags"],
            resources=sorted(own),
        ),
        because=own,
    )
    grants.add(
        iam.PolicyStatement(
            sid="ListOwnPipelineExecutions",
            actions=["sagemaker:ListPipelineExecutions"],
            resources=[sagemaker("pipeline", names.pipeline)],
        ),
        iam.PolicyStatement(
            sid="ReadReleaseRecords",
            actions=["dynamodb:Query"],
            resources=[stack.format_arn(service="dynamodb", resource="table", resource_name=names.releases_table)],
        ),
        iam.PolicyStatement(
            sid="PublishReport", actions=["sns:Publish"], resources=[foundation.alerts_topic.topic_arn]
        ),
    )


def _schedule(scope: Construct, config: EnvironmentConfig, function: PowertoolsFunction) -> None:
    names, target = config.names, function.function.function_arn
    role = scheduler_role(
        scope,
        "OrphanReportScheduleRole",
        description=f"{names.prefix}: lets the orphan report schedule invoke the orphan report",
        action="lambda:InvokeFunction",
        target_arn=target,
    )
    schedule(
        scope,
        "OrphanReportSchedule",
        role=role,
        target_arn=target,
        name=names.orphan_report_schedule,
        description=f"Weekly orphan report of {names.prefix} to the alerts topic. {runbook(ORPHAN_RUNBOOK)}",
        expression=config.cost.orphan_report_schedule,
        timezone=config.cost.timezone,
        payload={"trigger": "schedule"},
        retries=0,
    )
