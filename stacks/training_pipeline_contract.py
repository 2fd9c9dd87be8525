"""Phase 03: what the SageMaker pipeline definition is made of, as plain values: its parameter and step names, the
`${...}` placeholders CloudFormation fills, the code bundle's layout, and the settings a definition is built from.

Shared by the definition builder (stacks/training_pipeline_definition.py), the training stack, scripts and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The pipeline parameter naming the CSV to train on; the retraining workflow sets it to a newly validated dataset.
INPUT_DATA_PARAMETER = "InputDataUri"

# Placeholders resolved by CloudFormation (Fn::Sub) when the stack deploys.
ARTIFACTS_BUCKET = "${ArtifactsBucket}"
CODE_BUCKET = "${CodeBucket}"
INPUT_BUCKET = "${InputBucket}"
# A full ARN (the SDK treats a value without "/" as a role name and asks IAM for its ARN).
EXECUTION_ROLE_ARN = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ExecutionRoleName}"
KMS_KEY_ARN = "${KmsKeyArn}"
# The ARN of the MLflow app or tracking server: the training job's MLFLOW_TRACKING_URI.
MLFLOW_TRACKING_ARN = "${MlflowTrackingArn}"
PLACEHOLDERS = (
    "ArtifactsBucket",
    "CodeBucket",
    "InputBucket",
    "ExecutionRoleName",
    "KmsKeyArn",
    "MlflowTrackingArn",
)

# Inside the code bundle (constructs/code_bundle.py): the ml/ package as a folder, plus the serving entry module.
BUNDLE_ROOT_IN_PROCESSING = "/opt/ml/processing/input/code"
# ModelEvaluation copies the bundle here; SageMaker uploads it next to the model (config.names
# PIPELINE_SERVING_CODE_FOLDER) and the registered package serves from that copy, not from the CDK assets bucket.
SERVING_CODE_IN_PROCESSING = "/opt/ml/processing/serving-code"
SERVING_ENTRY_MODULE = "serving_entry.py"

# Step names (the issue fixes them; tests and the pipeline-start script use them).
PREPROCESS_STEP = "DataPreProcessing"
TRAIN_STEP = "TrainModel"
EVALUATE_STEP = "ModelEvaluation"
CONDITION_STEP = "QualityGate"
REGISTER_STEP = "RegisterModel"
FAIL_STEP = "QualityGateFailed"
STEP_ORDER = (PREPROCESS_STEP, TRAIN_STEP, EVALUATE_STEP, CONDITION_STEP, REGISTER_STEP, FAIL_STEP)

EVALUATION_PROPERTY_FILE = "EvaluationReport"
# The gate's two limits, pipeline parameters so an execution may override them (defaults from config [ml]).
THRESHOLD_PARAMETER = "QualityThreshold"
BASELINE_MARGIN_PARAMETER = "BaselineMargin"


@dataclass(frozen=True)
class DefinitionSettings:
    """Everything the definition depends on, as plain values (the stack fills it from typed config)."""

    pipeline_name: str
    region: str
    model_package_group_name: str
    code_bundle_key: str  # object key of the code bundle in CODE_BUCKET
    input_data_key: str  # default input object in INPUT_BUCKET
    artifacts_prefix: str  # every step writes under s3://ARTIFACTS_BUCKET/<artifacts_prefix>/<execution id>/
    quality_metric: str
    quality_threshold: float
    baseline_margin: float  # the metric's required lift over the gender rule on the same test split
    processing_instance_type: str
    processing_instance_count: int
    training_instance_type: str
    preprocess_seed: int
    hyperparameters: dict[str, str | int | float] = field(default_factory=dict)
    training_code_bundle_key: str = ""  # the training job's bundle (adds the MLflow client); "" = code_bundle_key
    # With MLflow tracking (app or server): the tags (env, purpose, owner) ml/train.py logs its run with; None = none.
    mlflow_run_tags: dict[str, str] | None = None

    @property
    def mlflow_enabled(self) -> bool:
        return self.mlflow_run_tags is not None
