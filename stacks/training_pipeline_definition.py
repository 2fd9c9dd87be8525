"""Phase 03: the SageMaker pipeline definition: DataPreProcessing -> TrainModel -> ModelEvaluation -> QualityGate ->
RegisterModel (or QualityGateFailed), built offline with the pinned SageMaker Python SDK v2 workflow API.

Pure Python, no CDK: `build_definition()` returns the definition JSON, which tests parse and the training stack
wraps in `Fn::Sub`. Values only CloudFormation knows (bucket names, role and key ARNs) appear as `${Name}`
placeholders (stacks/training_pipeline_contract.py `PLACEHOLDERS`); everything else is concrete, so the JSON is
byte-identical for the same commit. Every container path comes from ml/contracts.py; the SDK runs offline through
stacks/sagemaker_offline.py. One builder per step, composed by `build_pipeline`.
"""

from __future__ import annotations

import json
import logging
import posixpath
import warnings
from dataclasses import dataclass

from sagemaker.inputs import TrainingInput
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

from config.names import PIPELINE_MODEL_FOLDER, PIPELINE_SERVING_CODE_FOLDER, SERVING_CODE_ARCHIVE
from constructs.sklearn_image import SKLEARN_VERSION, sklearn_image_uri
from ml import contracts
from stacks.sagemaker_offline import offline_session
from stacks.training_pipeline_baseline import baseline_output
from stacks.training_pipeline_contract import (
    ARTIFACTS_BUCKET,
    BASELINE_MARGIN_PARAMETER,
    BUNDLE_ROOT_IN_PROCESSING,
    CODE_BUCKET,
    CONDITION_STEP,
    EVALUATE_STEP,
    EVALUATION_PROPERTY_FILE,
    EXECUTION_ROLE_ARN,
    FAIL_STEP,
    INPUT_BUCKET,
    INPUT_DATA_PARAMETER,
    KMS_KEY_ARN,
    MLFLOW_TRACKING_ARN,
    PREPROCESS_STEP,
    SERVING_CODE_IN_PROCESSING,
    THRESHOLD_PARAMETER,
    TRAIN_STEP,
    DefinitionSettings,
)
from stacks.training_pipeline_register import register_step


def _artifacts(settings: DefinitionSettings, *parts: str) -> Join:
    """s3://<artifacts>/<prefix>/<execution id>/<parts>: each execution writes its own folder."""
    return Join(
        on="/",
        values=[
            f"s3://{ARTIFACTS_BUCKET}/{settings.artifacts_prefix}",
            ExecutionVariables.PIPELINE_EXECUTION_ID,
            *parts,
        ],
    )


def _script_processor(
    settings: DefinitionSettings, session, instance_type, instance_count, script: str, keep_bundle: bool = False
) -> Processor:
    """A processing job that unpacks the code bundle and runs one ml/ script with the job's arguments.

    The same pattern as the SDK's FrameworkProcessor (its runproc.sh untars sourcedir.tar.gz), written inline so
    that nothing is uploaded while the definition is built. `keep_bundle`: also copy the bundle to
    SERVING_CODE_IN_PROCESSING, an output of the job (the code the registered model serves with).
    """
    # The input keeps the object's name (the asset key, "<hash>.gz"); the key is known, so it is named exactly.
    bundle, into = posixpath.basename(settings.code_bundle_key), SERVING_CODE_IN_PROCESSING
    keep = f"mkdir -p {into}; cp {bundle} {into}/{SERVING_CODE_ARCHIVE}; " if keep_bundle else ""
    command = (
        f"set -euo pipefail; cd {BUNDLE_ROOT_IN_PROCESSING}; tar -xzf {bundle}; {keep}"
        f'exec python3 {BUNDLE_ROOT_IN_PROCESSING}/ml/{script} "$@"'
    )
    return Processor(
        role=EXECUTION_ROLE_ARN,
        image_uri=sklearn_image_uri(settings.region),
        instance_type=instance_type,
        instance_count=instance_count,
        entrypoint=["/bin/bash", "-c", command, "bash"],
        volume_kms_key=KMS_KEY_ARN,
        output_kms_key=KMS_KEY_ARN,
        sagemaker_session=session,
    )


@dataclass(frozen=True)
class _Parameters:
    """The pipeline parameters an execution may override (their defaults come from the environment's config)."""

    input_data: ParameterString
    processing_type: ParameterString
    processing_count: ParameterInteger
    training_type: ParameterString
    threshold: ParameterFloat
    baseline_margin: ParameterFloat

    @classmethod
    def of(cls, settings: DefinitionSettings) -> _Parameters:
        return cls(
            input_data=ParameterString(
                INPUT_DATA_PARAMETER, default_value=f"s3://{INPUT_BUCKET}/{settings.input_data_key}"
            ),
            processing_type=ParameterString("ProcessingInstanceType", default_value=settings.processing_instance_type),
            processing_count=ParameterInteger(
                "ProcessingInstanceCount", default_value=settings.processing_instance_count
            ),
            training_type=ParameterString("TrainingInstanceType", default_value=settings.training_instance_type),
            threshold=ParameterFloat(THRESHOLD_PARAMETER, default_value=settings.quality_threshold),
            baseline_margin=ParameterFloat(BASELINE_MARGIN_PARAMETER, default_value=settings.baseline_margin),
        )

    def all(self) -> list:
        return [
            self.input_data,
            self.processing_type,
            self.processing_count,
            self.training_type,
            self.threshold,
            self.baseline_margin,
        ]


def build_pipeline(settings: DefinitionSettings) -> Pipeline:
    """DataPreProcessing -> TrainModel -> ModelEvaluation -> QualityGate -> RegisterModel | QualityGateFailed."""
    session = offline_session(settings.region, ARTIFACTS_BUCKET)
    parameters = _Parameters.of(settings)
    code_input = ProcessingInput(source=_code_uri(settings), destination=BUNDLE_ROOT_IN_PROCESSING, input_name="code")
    preprocess = _preprocess_step(settings, session, parameters, code_input)
    train = _train_step(settings, session, parameters, preprocess)
    evaluate, report, evaluation_uri = _evaluate_step(settings, session, parameters, code_input, preprocess, train)
    register = register_step(settings, session, train, evaluate, evaluation_uri)
    gate = _gate_step(settings, parameters, evaluate, report, register)
    return Pipeline(
        name=settings.pipeline_name,
        parameters=parameters.all(),
        steps=[preprocess, train, evaluate, gate],
        # No SageMaker Experiments trial per execution: runs are tracked in MLflow, and the role needs no
        # Experiments permissions.
        pipeline_experiment_config=None,
        sagemaker_session=session,
    )


def _code_uri(settings: DefinitionSettings) -> str:
    return f"s3://{CODE_BUCKET}/{settings.code_bundle_key}"


def _preprocess_step(settings, session, parameters: _Parameters, code_input: ProcessingInput) -> ProcessingStep:
    """DataPreProcessing: raw CSV in, one folder per split out."""
    processor = _script_processor(
        settings, session, parameters.processing_type, parameters.processing_count, "preprocess.py"
    )
    return ProcessingStep(
        name=PREPROCESS_STEP,
        step_args=processor.run(
            inputs=[
                code_input,
                ProcessingInput(source=parameters.input_data, destination=contracts.RAW_INPUT_DIR, input_name="raw"),
            ],
            outputs=[
                ProcessingOutput(
                    output_name=split,
                    source=f"{contracts.SPLIT_OUTPUT_ROOT}/{split}",
                    destination=_artifacts(settings, "splits", split),
                )
                for split in contracts.SPLITS
            ],
            arguments=[
                "--input-dir",
                contracts.RAW_INPUT_DIR,
                "--output-dir",
                contracts.SPLIT_OUTPUT_ROOT,
                "--seed",
                str(settings.preprocess_seed),
            ],
        ),
    )


def _split_uri(preprocess: ProcessingStep, split: str):
    return preprocess.properties.ProcessingOutputConfig.Outputs[split].S3Output.S3Uri


def _train_step(settings, session, parameters: _Parameters, preprocess: ProcessingStep) -> TrainingStep:
    """TrainModel: the training toolkit unpacks the bundle into /opt/ml/code and runs `python ml/train.py`."""
    environment = {"MLFLOW_TRACKING_URI": MLFLOW_TRACKING_ARN} if settings.mlflow_enabled else None
    hyperparameters = dict(settings.hyperparameters)
    if settings.mlflow_enabled:
        hyperparameters["mlflow-run-tags"] = json.dumps(settings.mlflow_run_tags, sort_keys=True)
    estimator = SKLearn(
        entry_point="ml/train.py",
        source_dir=f"s3://{CODE_BUCKET}/{settings.training_code_bundle_key or settings.code_bundle_key}",
        framework_version=SKLEARN_VERSION,
        py_version="py3",
        image_uri=sklearn_image_uri(settings.region),
        role=EXECUTION_ROLE_ARN,
        instance_type=parameters.training_type,
        instance_count=1,  # scikit-learn trains on one instance; the SDK refuses anything else
        hyperparameters=hyperparameters,
        output_path=_artifacts(settings, PIPELINE_MODEL_FOLDER),
        code_location=f"s3://{ARTIFACTS_BUCKET}/{settings.artifacts_prefix}/code",
        volume_kms_key=KMS_KEY_ARN,
        output_kms_key=KMS_KEY_ARN,
        environment=environment,
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=session,
    )
    return TrainingStep(
        name=TRAIN_STEP,
        step_args=estimator.fit(
            inputs={
                "train": _training_input(_split_uri(preprocess, "train")),
                "validation": _training_input(_split_uri(preprocess, "validation")),
            }
        ),
    )


def _evaluate_step(
    settings, session, parameters: _Parameters, code_input, preprocess: ProcessingStep, train: TrainingStep
) -> tuple[ProcessingStep, PropertyFile, Join]:
    """ModelEvaluation: model.tar.gz and the test split in, evaluation.json out (read by the quality gate).
    Returns the step, the report as a property file and the report's S3 URI."""
    evaluation_report = PropertyFile(
        name=EVALUATION_PROPERTY_FILE, output_name="evaluation", path=contracts.EVALUATION_FILE
    )
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts
    evaluate = ProcessingStep(
        name=EVALUATE_STEP,
        step_args=_script_processor(settings, session, parameters.processing_type, 1, "evaluate.py", True).run(
            inputs=[
                code_input,
                ProcessingInput(source=model_data, destination=contracts.MODEL_INPUT_DIR, input_name="model"),
                ProcessingInput(
                    source=_split_uri(preprocess, "test"), destination=contracts.TEST_INPUT_DIR, input_name="test"
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    source=contracts.EVALUATION_OUTPUT_DIR,
                    destination=_artifacts(settings, "evaluation"),
                ),
                baseline_output(settings),
                ProcessingOutput(
                    output_name=PIPELINE_SERVING_CODE_FOLDER,
                    source=SERVING_CODE_IN_PROCESSING,
                    destination=_artifacts(settings, PIPELINE_SERVING_CODE_FOLDER),
                ),
            ],
            arguments=[
                "--model-dir",
                contracts.MODEL_INPUT_DIR,
                "--test-dir",
                contracts.TEST_INPUT_DIR,
                "--output-dir",
                contracts.EVALUATION_OUTPUT_DIR,
                "--baseline-output-dir",
                contracts.BASELINE_OUTPUT_DIR,
            ],
        ),
        property_files=[evaluation_report],
    )
    evaluation_uri = Join(
        on="/",
        values=[
            evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri,
            contracts.EVALUATION_FILE,
        ],
    )
    return evaluate, evaluation_report, evaluation_uri


def _gate_step(settings, parameters: _Parameters, evaluate, report: PropertyFile, register) -> ConditionStep:
    """QualityGate: the metric must reach the threshold AND beat the gender rule by the margin (both conditions of
    ml/gates.py's local gate, from the same config). A Fail step's message cannot branch on which condition failed,
    so it names both limits and both measured values."""
    metric, lift = (
        JsonGet(step_name=evaluate.name, property_file=report, json_path=path)
        for path in (
            contracts.metric_json_path(settings.quality_metric),
            contracts.baseline_lift_json_path(settings.quality_metric),
        )
    )
    fail = FailStep(
        name=FAIL_STEP,
        error_message=Join(
            on=" ",
            values=[
                f"Quality gate failed: {settings.quality_metric}",
                metric,
                "must be >= the threshold",
                parameters.threshold,
                "and its lift over the gender rule",
                lift,
                "must be >= the baseline margin",
                parameters.baseline_margin,
            ],
        ),
    )
    return ConditionStep(
        name=CONDITION_STEP,
        conditions=[
            ConditionGreaterThanOrEqualTo(left=metric, right=parameters.threshold),
            ConditionGreaterThanOrEqualTo(left=lift, right=parameters.baseline_margin),
        ],
        if_steps=[register],
        else_steps=[fail],
    )


def _training_input(uri) -> TrainingInput:
    return TrainingInput(s3_data=uri, content_type=contracts.CSV_CONTENT_TYPE)


def build_definition(settings: DefinitionSettings) -> str:
    """The pipeline definition JSON, with sorted keys so that equal inputs give equal bytes."""
    # The SDK warns about every field it leaves to execution time (job names, marketplace flag): expected here.
    for name in ("sagemaker", "sagemaker.config", "sagemaker.workflow.utilities", "sagemaker.workflow._utils"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Running within a PipelineSession")  # no job starts: intended
        definition = json.loads(build_pipeline(settings).definition())
    return json.dumps(definition, sort_keys=True, indent=None, separators=(",", ":"))
