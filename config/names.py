"""Phase 00: every name the project gives a cloud resource, as a function of the environment, spelled once.

CDK-free and import-light: stacks and constructs build resources with these names, the operator scripts
(scripts/release.py, scripts/pipeline_start.py) find those resources by them, tests assert them. Lambda functions
and the ml/ code that runs in SageMaker containers do not import this module; they receive the names they need
through environment variables or arguments that a stack sets from here.

The stacks of an environment and the seed phases they implement are listed in config/phases.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.phases import PHASE_NUMBERS, STACK_PHASES

PROJECT = "titanic-sagemaker"  # the `project` tag value and the start of every description
METRICS_NAMESPACE = PROJECT  # the Lambda functions' Powertools metrics
# The drift check's metrics (lambdas/drift_check), dimensions EndpointName, VariantName (and Feature): one namespace
# for every environment, since endpoint names carry the environment (docs/06, "Model monitoring").
DRIFT_METRICS_NAMESPACE = f"{PROJECT}/Drift"

# Serving (phase 04).
STAGES = ("staging", "prod")  # endpoint stages, in release order
RETRAIN_ON_DRIFT_STAGES = ("prod",)  # stages whose drift alarm starts a retraining (staging serves test traffic)
VARIANT_NAME = "AllTraffic"  # one variant per endpoint; autoscaling and alarms address it by this name
NO_ENDPOINT_CONFIG = "none"  # what the promotion workflow records as "the config before" when a stage had no endpoint
RELEASE_REJECTED_ERROR = "ReleaseRejected"  # the error the operator CLI sends to the approval gate to reject
# Release records (the contract in docs/04-serving-ecs-sagemaker.md, "Release history"): one DynamoDB item per time a
# stage starts serving a package. `mode` says how: an approved package released through staging, an operator's
# rollback to a package prod served before, or a forced release (an operator skips the champion check, with a reason).
RELEASE_MODES = ("release", "rollback", "force")
RELEASE_ACTOR_APPROVAL_EVENT = "eventbridge:package-approved"  # `actor` of releases the registry's approval starts

# Training pipeline (phase 03): the folders of one execution (<pipeline_artifacts_prefix>/<execution id>/...) that
# serving reads: the model archive the training job writes, and the copy of the code bundle the model serves with.
PIPELINE_MODEL_FOLDER = "model"
PIPELINE_SERVING_CODE_FOLDER = "serving-code"
SERVING_CODE_ARCHIVE = "sourcedir.tar.gz"

# Training (phase 03): the folder of the pipeline's artifacts prefix holding each registered model's drift baseline.
PIPELINE_BASELINES_FOLDER = "baselines"

# Data (phase 01): the event the validation Lambda publishes for every curated dataset.
DATASET_EVENT_SOURCE = f"{PROJECT}.data"
DATASET_EVENT_DETAIL_TYPE = "DatasetValidated"


@dataclass(frozen=True)
class Names:
    """The names of one environment's resources. `Names("dev").pipeline == "titanic-dev-training"`."""

    env: str

    @property
    def prefix(self) -> str:
        """Start of every stack and named resource of the environment (the cleanup command finds resources by it)."""
        return f"titanic-{self.env}"

    # ------------------------------------------------------------------------------------------ stacks (all phases)
    def stack(self, phase: str) -> str:
        if phase not in PHASE_NUMBERS:
            raise ValueError(f"unknown stack phase {phase!r}; known: {', '.join(PHASE_NUMBERS)}")
        return f"{self.prefix}-{phase}"

    def stack_description(self, phase: str) -> str:
        (spec,) = [item for item in STACK_PHASES if item.key == phase]
        return f"{PROJECT} {self.env} phase {spec.number}: {spec.holds}"

    def description(self, what: str) -> str:
        """A resource description that says which environment it belongs to."""
        return f"{PROJECT} {self.env}: {what}"

    # ------------------------------------------------------------------------------------------ 00 foundations
    @property
    def key_alias(self) -> str:
        return f"alias/{self.prefix}"

    @property
    def alerts_topic(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def log_groups_pattern(self) -> str:
        """Log group names (any path) of this environment's named resources, for the key's CloudWatch Logs grant."""
        return f"*{self.prefix}-*"

    # ------------------------------------------------------------------------------------------ 01 data
    @property
    def validate_data_function(self) -> str:
        return f"{self.prefix}-validate-data"

    @property
    def seed_data_function(self) -> str:
        return f"{self.prefix}-seed-data"

    # ------------------------------------------------------------------------------------------ 03 training pipeline
    @property
    def pipeline(self) -> str:
        return f"{self.prefix}-training"

    @property
    def pipeline_artifacts_prefix(self) -> str:
        """Key prefix in the artifacts bucket under which every pipeline execution writes its own folder."""
        return f"pipelines/{self.pipeline}"

    @property
    def pipeline_baselines_prefix(self) -> str:
        """Where ModelEvaluation publishes each registered model's drift baseline: <prefix>/<execution id>/."""
        return f"{self.pipeline_artifacts_prefix}/{PIPELINE_BASELINES_FOLDER}"

    @property
    def model_artifact_keys(self) -> str:
        """Keys of every execution's model archives (<prefix>/<execution id>/model/<job>/output/model.tar.gz)."""
        return f"{self.pipeline_artifacts_prefix}/*/{PIPELINE_MODEL_FOLDER}/*"

    @property
    def serving_code_keys(self) -> str:
        """Keys of every execution's copy of the code bundle its registered model serves with."""
        return f"{self.pipeline_artifacts_prefix}/*/{PIPELINE_SERVING_CODE_FOLDER}/*"

    @property
    def model_package_group(self) -> str:
        return f"{self.prefix}-models"

    @property
    def execution_role(self) -> str:
        return f"{self.prefix}-sagemaker-execution"

    @property
    def mlflow_role(self) -> str:
        return f"{self.prefix}-mlflow"

    @property
    def mlflow_tracking_server(self) -> str:
        return f"{self.prefix}-mlflow"

    @property
    def mlflow_app(self) -> str:
        """The MLflow app's name (its ARN carries an ID SageMaker generates, not this name)."""
        return f"{self.prefix}-mlflow"

    @property
    def mlflow_artifacts_prefix(self) -> str:
        """Key prefix in the artifacts bucket of MLflow's artifact store (app or tracking server)."""
        return "mlflow"

    # The registry audit (issue 13): model package state changes and release executions, as EventBridge delivers them.
    @property
    def registry_audit_log_group(self) -> str:
        """EventBridge log group targets live under /aws/events/; the name matches the key's log-group grant."""
        return f"/aws/events/{self.prefix}-registry-audit"

    def registry_audit_rule(self, what: str) -> str:
        if what not in ("packages", "releases"):
            raise ValueError(f"what must be 'packages' or 'releases', got {what!r}")
        return f"{self.prefix}-audit-{what}"

    @property
    def registry_audit_policy(self) -> str:
        """The CloudWatch Logs resource policy that lets the audit rules write to the audit log group."""
        return f"{self.prefix}-registry-audit"

    # ------------------------------------------------------------------------------------------ 04 serving
    def endpoint(self, stage: str) -> str:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
        return f"{self.prefix}-{stage}"

    @property
    def endpoints(self) -> dict[str, str]:
        return {stage: self.endpoint(stage) for stage in STAGES}

    @property
    def endpoint_log_groups(self) -> str:
        """SageMaker names each endpoint's log group /aws/sagemaker/Endpoints/<endpoint>."""
        return f"/aws/sagemaker/Endpoints/{self.prefix}-*"

    def endpoint_alarm(self, stage: str, suffix: str) -> str:
        """An alarm on one stage endpoint (suffix: 5xx, model-latency, ...); the prod guard alarms share the form."""
        return f"{self.endpoint(stage)}-{suffix}"

    @property
    def releases_table(self) -> str:
        """DynamoDB table of release records: partition key `stage`, sort key `released_at` (docs/04)."""
        return f"{self.prefix}-releases"

    @property
    def endpoint_role(self) -> str:
        return f"{self.prefix}-endpoint"

    @property
    def data_capture_prefix(self) -> str:
        return f"data-capture/{self.env}"

    def guard_alarm(self, suffix: str) -> str:
        """An alarm on the prod endpoint that rolls a rollout back (suffix: 5xx, model-errors, model-latency)."""
        return f"{self.endpoint('prod')}-{suffix}"

    @property
    def smoke_test_function(self) -> str:
        return f"{self.prefix}-smoke-test"

    @property
    def release_resources_pattern(self) -> str:
        """Models (<prefix>-<release id>) and endpoint configs (<prefix>-<stage>-<release id>) a release creates."""
        return f"{self.prefix}-*"

    # ------------------------------------------------------------------------------------------ 06 orchestration
    @property
    def promotion_state_machine(self) -> str:
        return f"{self.prefix}-promotion"

    @property
    def retraining_state_machine(self) -> str:
        return f"{self.prefix}-retraining"

    @property
    def package_approved_rule(self) -> str:
        return f"{self.prefix}-package-approved"

    @property
    def dataset_validated_rule(self) -> str:
        return f"{self.prefix}-dataset-validated"

    @property
    def retraining_schedule(self) -> str:
        return f"{self.prefix}-retraining"

    # ------------------------------------------------------------------------------------------ 06 model monitoring
    @property
    def drift_check_function(self) -> str:
        return f"{self.prefix}-drift-check"

    @property
    def drift_check_schedule(self) -> str:
        return f"{self.prefix}-drift-check"

    @property
    def drift_reports_prefix(self) -> str:
        """Key prefix (artifacts bucket) of the drift check's reports: <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/."""
        return f"drift-reports/{self.env}"

    def drift_alarm(self, stage: str) -> str:
        """In ALARM while the endpoint's captured inputs drift from its model's baseline."""
        return f"{self.endpoint(stage)}-drift"

    def capture_schema_alarm(self, stage: str) -> str:
        """In ALARM while too many of the endpoint's captured requests break the passenger schema."""
        return f"{self.endpoint(stage)}-capture-schema-violations"

    @property
    def drift_retraining_rule(self) -> str:
        return f"{self.prefix}-drift-retraining"

    # ------------------------------------------------------------------------------------------ 06 observability
    @property
    def dashboard(self) -> str:
        return f"{self.prefix}-operations"

    @property
    def pipeline_failed_alarm(self) -> str:
        return f"{self.pipeline}-execution-failed"

    def pipeline_step_failed_alarm(self, step: str) -> str:
        return f"{self.pipeline}-{step.lower()}-failed"

    def workflow_error_alarm(self, what: str) -> str:
        """An alarm on one kind of failed promotion (what: approval-timed-out, auto-rollback)."""
        return f"{self.promotion_state_machine}-{what}"

    @property
    def data_quarantined_alarm(self) -> str:
        return f"{self.prefix}-data-quarantined"

    @property
    def release_health_alarm(self) -> str:
        return f"{self.prefix}-release-health"

    # ------------------------------------------------------------------------------------------ 07 cost governance
    @property
    def budget(self) -> str:
        return f"{self.prefix}-monthly"

    @property
    def orphan_report_function(self) -> str:
        return f"{self.prefix}-orphan-report"

    @property
    def orphan_report_schedule(self) -> str:
        return f"{self.prefix}-orphan-report"

    @property
    def endpoint_sleeper_function(self) -> str:
        return f"{self.prefix}-endpoint-sleeper"

    def endpoint_sleep_schedule(self, when: str) -> str:
        """when: `after-hours` (the end of the working day) or `idle` (the hourly idle check)."""
        if when not in ("after-hours", "idle"):
            raise ValueError(f"when must be 'after-hours' or 'idle', got {when!r}")
        return f"{self.prefix}-sleep-{when}"
