"""Phase 04, promotion step 2: the champion check. A release ("release" mode) may not make prod worse: the candidate
package's quality metric is compared with the one of the package prod serves now (the champion: the newest prod
item of the release records), both read from the evaluation.json the pipeline registered as the packages'
ModelMetrics. Worse by more than `ml.champion_tolerance` fails as ChampionRegression before anything is created.
A forced release ("force" mode, `make release ... FORCE=yes`) and a rollback skip it; with no prod release yet there
is nothing to compare with. ml/gates.py applies the same rule locally (champion_gate).

    NeedsChampionCheck -> LatestProdRelease -> HasChampion -> DescribeChampion -> CandidateHasReport
    -> ReportLocations -> ReportsWhereThePipelineWritesThem -> ReadCandidateReport -> ReadChampionReport
    -> ParseReports -> ChampionVerdict (end)

The reports are read by S3 GetObject in the SDK integration (its Body is the object as text) and parsed with
States.StringToJson. Step Functions' JSONPath intrinsics cannot subtract decimals (States.MathAdd rounds to
integers), so the verdict alone is a JSONata Choice. The report keys are rebuilt from the pipeline's layout
(s3://<artifacts>/<pipeline prefix>/<execution id>/evaluation/evaluation.json, stacks/training_pipeline_definition.py)
and must equal the registered URIs: a report anywhere else fails the check instead of being read from elsewhere.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from config.sections import MlSettings
from constructs import Construct
from constructs.promotion.targets import PromotionTargets
from constructs.promotion.tasks import sagemaker_arn
from constructs.workflow_fragments import ChoiceExit, FailureTail, Fragment, catch_all, error_cause, sdk_call
from ml import contracts

REGRESSION = "ChampionRegression"
CHECK_FAILED = "ChampionCheckFailed"
# The pipeline's evaluation output folder (ProcessingOutput "evaluation" of ModelEvaluation).
EVALUATION_FOLDER = "evaluation"
CANDIDATE_URI = "$.package.metrics.ModelQuality.Statistics.S3Uri"
# Same float guard as ml/gates.py: a candidate exactly `tolerance` below the champion passes.
FLOAT_GUARD = 1e-9


class ChampionCheck(Fragment):
    def __init__(
        self, scope: Construct, construct_id: str, *, targets: PromotionTargets, ml: MlSettings, failed: FailureTail
    ) -> None:
        super().__init__(scope, construct_id)
        self._targets, self._failed = targets, failed
        self._reports_arn = targets.artifacts_bucket.arn_for_objects(
            f"{targets.names.pipeline_artifacts_prefix}/*/{EVALUATION_FOLDER}/{contracts.EVALUATION_FILE}"
        )
        check_failed = failed.failure(
            self,
            "ChampionNotCompared",
            CHECK_FAILED,
            sfn.JsonPath.format(
                "the candidate {} could not be compared with the package prod serves: {}",
                sfn.JsonPath.string_at("$.model_package_arn"),
                error_cause(),
            ),
        )
        latest, describe = self._latest_prod_release(), self._describe_champion()
        reads = self._read_reports()
        for task in (latest, describe, *reads):
            task.add_catch(check_failed, **catch_all())
        no_report = failed.failure(
            self,
            "ReportNotWherePipelineWrites",
            CHECK_FAILED,
            sfn.JsonPath.format(
                "the quality reports of the candidate ({}) and of the package prod serves ({}) must be the "
                f"evaluation.json files the pipeline writes under {targets.names.pipeline_artifacts_prefix}/",
                sfn.JsonPath.string_at("$.model_package_arn"),
                sfn.JsonPath.string_at("$.champion.package.arn"),
            ),
        )
        verdict = self._verdict(ml)
        has_report = sfn.Choice(self, "CandidateHasReport").otherwise(no_report)
        has_report.when(sfn.Condition.is_present(CANDIDATE_URI), self._locations())
        self._locations_state.next(self._where_the_pipeline_writes(no_report, reads[0]))
        reads[0].next(reads[1]).next(self._parse_reports()).next(verdict)
        latest_choice = sfn.Choice(self, "HasChampion")
        latest.next(latest_choice)
        latest_choice.when(sfn.Condition.number_greater_than("$.champion.count", 0), describe)
        describe.next(has_report)
        needed = sfn.Choice(self, "NeedsChampionCheck").when(sfn.Condition.string_equals("$.mode", "release"), latest)
        self._start = needed
        self._ends = (ChoiceExit(needed), ChoiceExit(latest_choice), ChoiceExit(verdict))
        self.wildcard_reasons = {
            self._reports_arn: "the quality report of any execution of this environment's pipeline: the package's "
            "execution id is known only at run time; other keys of the artifacts bucket stay unreadable"
        }

    def _latest_prod_release(self) -> tasks.CallAwsService:
        """What prod serves now: the newest prod item of the release records (none before the first release)."""
        table = self._targets.releases_table
        return sdk_call(
            self,
            "LatestProdRelease",
            service="dynamodb",
            action="query",
            parameters={
                "TableName": table.table_name,
                "KeyConditionExpression": "#stage = :stage",
                "ExpressionAttributeNames": {"#stage": "stage"},
                "ExpressionAttributeValues": {":stage": {"S": "prod"}},
                "ScanIndexForward": False,
                "Limit": 1,
            },
            iam_resources=[table.table_arn],
            additional_iam_statements=[self._decrypt()],
            result_selector={"count.$": "$.Count", "items.$": "$.Items"},
            result_path="$.champion",
        )

    def _describe_champion(self) -> tasks.CallAwsService:
        group = self._targets.model_package_group_name
        return sdk_call(
            self,
            "DescribeChampion",
            service="sagemaker",
            action="describeModelPackage",
            parameters={"ModelPackageName.$": "$.champion.items[0].model_package_arn.S"},
            iam_resources=[sagemaker_arn(self, "model-package", f"{group}/*")],
            result_selector={
                "arn.$": "$.ModelPackageArn",
                "version.$": "$.ModelPackageVersion",
                "report_uri.$": "$.ModelMetrics.ModelQuality.Statistics.S3Uri",
            },
            result_path="$.champion.package",
        )

    def _locations(self) -> sfn.Pass:
        """Each report's key rebuilt from the execution id in its URI (s3://bucket/<prefix>/<execution id>/...)."""
        prefix = self._targets.names.pipeline_artifacts_prefix
        bucket = self._targets.artifacts_bucket.bucket_name
        execution_index = 2 + len(prefix.split("/"))  # StringSplit drops the empty piece between "s3:" and "//"
        key = f"{prefix}/{{}}/{EVALUATION_FOLDER}/{contracts.EVALUATION_FILE}"
        parameters = {}
        for role, uri in (("candidate", CANDIDATE_URI), ("champion", "$.champion.package.report_uri")):
            execution = f"States.ArrayGetItem(States.StringSplit({uri}, '/'), {execution_index})"
            parameters[f"{role}_key.$"] = f"States.Format('{key}', {execution})"
            parameters[f"{role}_uri.$"] = f"States.Format('s3://{bucket}/{key}', {execution})"
        self._locations_state = sfn.Pass(self, "ReportLocations", parameters=parameters, result_path="$.reports")
        return self._locations_state

    def _where_the_pipeline_writes(self, elsewhere: sfn.IChainable, read: sfn.IChainable) -> sfn.Choice:
        return (
            sfn.Choice(self, "ReportsWhereThePipelineWritesThem")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals_json_path(CANDIDATE_URI, "$.reports.candidate_uri"),
                    sfn.Condition.string_equals_json_path("$.champion.package.report_uri", "$.reports.champion_uri"),
                ),
                read,
            )
            .otherwise(elsewhere)
        )

    def _read_reports(self) -> tuple[tasks.CallAwsService, tasks.CallAwsService]:
        reads = tuple(
            sdk_call(
                self,
                f"Read{role.capitalize()}Report",
                service="s3",
                action="getObject",
                parameters={
                    "Bucket": self._targets.artifacts_bucket.bucket_name,
                    "Key.$": f"$.reports.{role}_key",
                },
                iam_resources=[self._reports_arn],
                # The artifacts bucket is encrypted with the environment key (SSE-KMS).
                additional_iam_statements=[self._decrypt()],
                result_selector={"body.$": "$.Body"},
                result_path=f"$.reports.{role}_body",
            )
            for role in ("candidate", "champion")
        )
        return reads  # type: ignore[return-value]

    def _parse_reports(self) -> sfn.Pass:
        return sfn.Pass(
            self,
            "ParseReports",
            parameters={
                role: sfn.JsonPath.string_to_json(sfn.JsonPath.string_at(f"$.reports.{role}_body.body"))
                for role in ("candidate", "champion")
            },
            result_path="$.reports",
        )

    def _verdict(self, ml: MlSettings) -> sfn.Choice:
        """JSONata: a missing metric fails the check; a candidate below champion - tolerance is a regression."""
        path = contracts.metric_json_path(ml.quality_metric)
        candidate, champion = (f"$states.input.reports.{role}.{path}" for role in ("candidate", "champion"))
        targets_env = self._targets.names.env
        regression = self._failed.failure(
            self,
            "RefuseRegression",
            REGRESSION,
            sfn.JsonPath.format(
                f"the candidate (version {{}}) scores {ml.quality_metric} {{}}, the package prod serves (version {{}}) "
                f"{{}}: worse by more than the tolerance {ml.champion_tolerance:g} (ml.champion_tolerance); nothing "
                f"was deployed. To release it anyway: make release ENV={targets_env} PACKAGE=(its ARN) FORCE=yes "
                "REASON=(why)",
                sfn.JsonPath.string_at("$.package.version"),
                sfn.JsonPath.string_at(f"$.reports.candidate.{path}"),
                sfn.JsonPath.string_at("$.champion.package.version"),
                sfn.JsonPath.string_at(f"$.reports.champion.{path}"),
            ),
        )
        missing = self._failed.failure(
            self,
            "MetricMissing",
            CHECK_FAILED,
            f"a quality report has no {path}: the candidate cannot be compared with the package prod serves",
        )

        def is_number(value: str) -> str:
            return f"$type({value}) = 'number'"

        limit = f"{champion} - {ml.champion_tolerance!r} - {FLOAT_GUARD!r}"
        return (
            sfn.Choice.jsonata(self, "ChampionVerdict")
            .when(sfn.Condition.jsonata(f"{{% $not({is_number(candidate)} and {is_number(champion)}) %}}"), missing)
            .when(sfn.Condition.jsonata(f"{{% {candidate} < {limit} %}}"), regression)
        )

    def _decrypt(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self._targets.key.key_arn])
