"""Phase 03: the pipeline's RegisterModel step: the model package the promotion workflow later serves.

Part of the pipeline definition (stacks/training_pipeline_definition.py composes it); pure Python, no CDK.
"""

from __future__ import annotations

from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.workflow._utils import _RegisterModelStep
from sagemaker.workflow.functions import Join
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

from config.names import PIPELINE_SERVING_CODE_FOLDER, SERVING_CODE_ARCHIVE
from constructs.sklearn_image import sklearn_image_uri
from ml import contracts
from stacks.training_pipeline_baseline import drift_check_baselines, published_baseline_uri
from stacks.training_pipeline_contract import (
    EXECUTION_ROLE_ARN,
    REGISTER_STEP,
    SERVING_ENTRY_MODULE,
    DefinitionSettings,
)


def register_step(
    settings: DefinitionSettings, session, train: TrainingStep, evaluate: ProcessingStep, evaluation_uri: Join
) -> _RegisterModelStep:
    """RegisterModel: the same image serves; SAGEMAKER_PROGRAM names a top-level module of the bundle, imported by
    module name (docs/03-sagemaker-pipeline.md). It serves with the execution's copy of the bundle in the artifacts
    bucket, which lives as long as the model (a rollback to an old package finds its code)."""
    code_folder = evaluate.properties.ProcessingOutputConfig.Outputs[PIPELINE_SERVING_CODE_FOLDER].S3Output.S3Uri
    serving_code = Join(on="/", values=[code_folder, SERVING_CODE_ARCHIVE])
    model = Model(
        image_uri=sklearn_image_uri(settings.region),
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        role=EXECUTION_ROLE_ARN,
        env={
            "SAGEMAKER_PROGRAM": SERVING_ENTRY_MODULE,
            "SAGEMAKER_SUBMIT_DIRECTORY": serving_code,
            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
            "SAGEMAKER_REGION": settings.region,
        },
        sagemaker_session=session,
    )
    register_args = model.register(
        content_types=[contracts.JSON_CONTENT_TYPE, contracts.CSV_CONTENT_TYPE],
        response_types=[contracts.JSON_CONTENT_TYPE],
        inference_instances=["ml.t2.medium", "ml.m5.large"],
        transform_instances=["ml.m5.large"],
        model_package_group_name=settings.model_package_group_name,
        approval_status="PendingManualApproval",
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(content_type=contracts.JSON_CONTENT_TYPE, s3_uri=evaluation_uri)
        ),
        description=f"titanic-sagemaker model from pipeline {settings.pipeline_name}",
        **drift_check_baselines(published_baseline_uri(evaluate)),
    )
    if register_args.need_runtime_repack:  # only a model with an entry point is repacked; this one has none
        raise AssertionError("the registered model must not need a repack step")
    # ModelStep would name the step "<name>-RegisterModel"; the issue fixes the name "RegisterModel", so the step
    # ModelStep builds is built directly from the same arguments.
    return _RegisterModelStep(name=REGISTER_STEP, step_args=register_args.create_model_package_request)
