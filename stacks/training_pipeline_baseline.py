"""Phase 03: the model's drift baseline in the pipeline: ModelEvaluation publishes it, RegisterModel references it.

TrainModel writes ml/baseline.py's baseline.json into the model folder (inside model.tar.gz). ModelEvaluation, which
extracts that model anyway, also copies the file (validated) to an output of its own, so each registered model's
baseline is a small object under <artifacts>/<pipeline prefix>/baselines/<execution id>/baseline.json: the drift
monitor (lambdas/drift_check) may read that folder and nothing else of the pipeline's artifacts (no splits, no
model). The model package points at it from DriftCheckBaselines.ModelDataQuality.Statistics. Used by
stacks/training_pipeline_definition.py (the evaluation and register builders); plain SDK objects, built offline.
"""

from __future__ import annotations

from sagemaker.drift_check_baselines import DriftCheckBaselines
from sagemaker.model_metrics import MetricsSource
from sagemaker.processing import ProcessingOutput
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.functions import Join
from sagemaker.workflow.steps import ProcessingStep

from config.names import PIPELINE_BASELINES_FOLDER
from ml import baseline, contracts
from stacks.training_pipeline_contract import ARTIFACTS_BUCKET, DefinitionSettings

BASELINE_OUTPUT = "baseline"  # the ProcessingOutput of ModelEvaluation
BASELINE_FORMAT_PROPERTY = "drift-baseline-format"  # CustomerMetadataProperties key: which code reads the file


def baseline_output(settings: DefinitionSettings) -> ProcessingOutput:
    """ModelEvaluation's output <artifacts>/<pipeline prefix>/baselines/<execution id>/ (from BASELINE_OUTPUT_DIR)."""
    destination = Join(
        on="/",
        values=[
            f"s3://{ARTIFACTS_BUCKET}/{settings.artifacts_prefix}/{PIPELINE_BASELINES_FOLDER}",
            ExecutionVariables.PIPELINE_EXECUTION_ID,
        ],
    )
    return ProcessingOutput(output_name=BASELINE_OUTPUT, source=contracts.BASELINE_OUTPUT_DIR, destination=destination)


def published_baseline_uri(evaluate: ProcessingStep) -> Join:
    """The S3 URI of the baseline.json ModelEvaluation published."""
    output = evaluate.properties.ProcessingOutputConfig.Outputs[BASELINE_OUTPUT].S3Output.S3Uri
    return Join(on="/", values=[output, contracts.BASELINE_FILE])


def drift_check_baselines(baseline_uri: Join) -> dict:
    """Model.register() arguments: the baseline as the package's model-data-quality statistics, and its format in the
    package's metadata. DriftCheckBaselines, because UpdateModelPackage cannot change it: a registered model and the
    baseline it is judged against never part (CustomerMetadataProperties can be edited after registration). The
    format property says the file is ml/baseline.py's, not Model Monitor's statistics.json."""
    return {
        "drift_check_baselines": DriftCheckBaselines(
            model_data_statistics=MetricsSource(content_type=contracts.JSON_CONTENT_TYPE, s3_uri=baseline_uri)
        ),
        "customer_metadata_properties": {
            BASELINE_FORMAT_PROPERTY: f"titanic-sagemaker ml/baseline.py v{baseline.BASELINE_VERSION}"
        },
    }
