"""Phase 03: the SageMaker pipeline definition as deployed (parsed from each environment's template) and its
determinism. That building it makes no network call is proved in tests/infra/test_definition_cache.py, by the fresh
build that also lists the modules the cache key must cover."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from config import load_all_environments
from constructs.sklearn_image import SKLEARN_VERSION, ecr_repository_arn
from ml import contracts, tracking
from stacks.data import CURATED_DATASET_KEY
from stacks.training_pipeline_contract import PLACEHOLDERS, SERVING_CODE_IN_PROCESSING, DefinitionSettings

CONFIGS = load_all_environments()
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def deployed_definition(template: dict) -> tuple[str, dict]:
    """The definition string inside the pipeline's Fn::Sub and the Fn::Sub variables."""
    pipelines = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    assert len(pipelines) == 1
    body, variables = pipelines[0]["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    return body, variables


@pytest.fixture(params=CONFIGS, ids=lambda config: config.name)
def deployed(request, synthesis):
    config = request.param
    body, variables = deployed_definition(synthesis.stacks[config.names.stack("training")].template)
    definition = json.loads(body)
    steps = {step["Name"]: step for step in definition["Steps"]}
    condition = steps["QualityGate"]
    for nested in condition["Arguments"]["IfSteps"] + condition["Arguments"]["ElseSteps"]:
        steps[nested["Name"]] = nested
    return config, definition, steps, body, variables


def _join(value: dict) -> list:
    return value["Std:Join"]["Values"]


def test_steps_types_and_order(deployed):
    _, definition, steps, _, _ = deployed
    assert definition["PipelineExperimentConfig"] is None  # tracking is MLflow's job; no Experiments permissions
    assert [(s["Name"], s["Type"]) for s in definition["Steps"]] == [
        ("DataPreProcessing", "Processing"),
        ("TrainModel", "Training"),
        ("ModelEvaluation", "Processing"),
        ("QualityGate", "Condition"),
    ]
    arguments = steps["QualityGate"]["Arguments"]
    assert [(s["Name"], s["Type"]) for s in arguments["IfSteps"]] == [("RegisterModel", "RegisterModel")]
    assert [(s["Name"], s["Type"]) for s in arguments["ElseSteps"]] == [("QualityGateFailed", "Fail")]


def test_parameters_default_to_the_environment_settings(deployed):
    config, definition, _, _, _ = deployed
    defaults = {p["Name"]: (p["Type"], p["DefaultValue"]) for p in definition["Parameters"]}
    assert defaults == {
        "InputDataUri": ("String", f"s3://${{InputBucket}}/{CURATED_DATASET_KEY}"),
        "ProcessingInstanceType": ("String", config.training.processing_instance_type),
        "ProcessingInstanceCount": ("Integer", config.training.processing_instance_count),
        "TrainingInstanceType": ("String", config.training.training_instance_type),
        "QualityThreshold": ("Float", config.ml.quality_threshold),
        "BaselineMargin": ("Float", config.ml.baseline_margin),
    }


def test_preprocessing_reads_the_input_parameter_and_writes_every_split(deployed):
    config, _, steps, _, _ = deployed
    arguments = steps["DataPreProcessing"]["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in arguments["ProcessingInputs"]}
    assert inputs["raw"]["S3Uri"] == {"Get": "Parameters.InputDataUri"}
    assert inputs["raw"]["LocalPath"] == contracts.RAW_INPUT_DIR
    outputs = {o["OutputName"]: o["S3Output"] for o in arguments["ProcessingOutputConfig"]["Outputs"]}
    assert sorted(outputs) == sorted(contracts.SPLITS)
    for split, output in outputs.items():
        assert output["LocalPath"] == f"{contracts.SPLIT_OUTPUT_ROOT}/{split}"
        assert _join(output["S3Uri"])[1:] == [{"Get": "Execution.PipelineExecutionId"}, "splits", split]
    assert arguments["AppSpecification"]["ContainerArguments"] == [
        "--input-dir",
        contracts.RAW_INPUT_DIR,
        "--output-dir",
        contracts.SPLIT_OUTPUT_ROOT,
        "--seed",
        str(config.training.preprocess_seed),
    ]
    assert arguments["ProcessingResources"]["ClusterConfig"]["InstanceType"] == {
        "Get": "Parameters.ProcessingInstanceType"
    }


def test_training_consumes_the_train_and_validation_splits(deployed):
    _, _, steps, _, _ = deployed
    arguments = steps["TrainModel"]["Arguments"]
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in arguments["InputDataConfig"]}
    assert channels == {
        split: {"Get": f"Steps.DataPreProcessing.ProcessingOutputConfig.Outputs['{split}'].S3Output.S3Uri"}
        for split in ("train", "validation")
    }
    hyperparameters = arguments["HyperParameters"]
    assert json.loads(hyperparameters["sagemaker_program"]) == "ml/train.py"
    assert arguments["ResourceConfig"]["InstanceType"] == {"Get": "Parameters.TrainingInstanceType"}
    assert arguments["ResourceConfig"]["InstanceCount"] == 1


def test_evaluation_reads_the_model_and_test_split_and_declares_the_report(deployed):
    _, _, steps, _, _ = deployed
    step = steps["ModelEvaluation"]
    arguments = step["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in arguments["ProcessingInputs"]}
    assert inputs["model"]["S3Uri"] == {"Get": "Steps.TrainModel.ModelArtifacts.S3ModelArtifacts"}
    assert inputs["model"]["LocalPath"] == contracts.MODEL_INPUT_DIR
    assert inputs["test"]["S3Uri"] == {
        "Get": "Steps.DataPreProcessing.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    }
    assert inputs["test"]["LocalPath"] == contracts.TEST_INPUT_DIR
    outputs = {o["OutputName"]: o for o in arguments["ProcessingOutputConfig"]["Outputs"]}
    assert set(outputs) == {"evaluation", "baseline", "serving-code"}  # the baseline: test_the_evaluated_models_...
    assert outputs["evaluation"]["S3Output"]["LocalPath"] == contracts.EVALUATION_OUTPUT_DIR
    # The evaluated code bundle is kept next to the model: the registered package serves with this copy.
    code = outputs["serving-code"]
    assert code["S3Output"]["LocalPath"] == SERVING_CODE_IN_PROCESSING
    assert code["S3Output"]["S3Uri"]["Std:Join"]["Values"][-1] == "serving-code"
    command = arguments["AppSpecification"]["ContainerEntrypoint"][2]
    assert f"cp {inputs['code']['S3Uri'].rsplit('/', 1)[1]} {SERVING_CODE_IN_PROCESSING}/sourcedir.tar.gz;" in command
    assert step["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": contracts.EVALUATION_FILE}
    ]
    assert arguments["AppSpecification"]["ContainerArguments"] == [
        "--model-dir",
        contracts.MODEL_INPUT_DIR,
        "--test-dir",
        contracts.TEST_INPUT_DIR,
        "--output-dir",
        contracts.EVALUATION_OUTPUT_DIR,
        "--baseline-output-dir",
        contracts.BASELINE_OUTPUT_DIR,
    ]


def test_the_evaluated_models_baseline_is_published_and_referenced_by_the_package(deployed):
    config, _, steps, _, _ = deployed
    outputs = {o["OutputName"]: o for o in steps["ModelEvaluation"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]}
    baseline = outputs["baseline"]["S3Output"]
    assert baseline["LocalPath"] == contracts.BASELINE_OUTPUT_DIR
    assert _join(baseline["S3Uri"]) == [
        f"s3://${{ArtifactsBucket}}/{config.names.pipeline_baselines_prefix}",
        {"Get": "Execution.PipelineExecutionId"},
    ]
    arguments = steps["RegisterModel"]["Arguments"]
    statistics = arguments["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert _join(statistics["S3Uri"]) == [
        {"Get": "Steps.ModelEvaluation.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"},
        contracts.BASELINE_FILE,
    ]
    assert arguments["CustomerMetadataProperties"] == {"drift-baseline-format": "titanic-sagemaker ml/baseline.py v1"}


def _report_value(path: str) -> dict:
    return {
        "Std:JsonGet": {
            "Path": path,
            "PropertyFile": {"Get": "Steps.ModelEvaluation.PropertyFiles.EvaluationReport"},
        }
    }


def test_gate_requires_the_threshold_and_the_margin_over_the_baseline_rule(deployed):
    config, _, steps, _, _ = deployed
    metric = config.ml.quality_metric
    # A ConditionStep's conditions must all hold: threshold AND lift over the gender rule (ml/gates.py locally).
    assert steps["QualityGate"]["Arguments"]["Conditions"] == [
        {
            "Type": "GreaterThanOrEqualTo",
            "LeftValue": _report_value(contracts.metric_json_path(metric)),
            "RightValue": {"Get": "Parameters.QualityThreshold"},
        },
        {
            "Type": "GreaterThanOrEqualTo",
            "LeftValue": _report_value(contracts.baseline_lift_json_path(metric)),
            "RightValue": {"Get": "Parameters.BaselineMargin"},
        },
    ]


def test_fail_message_names_both_conditions_their_values_and_limits(deployed):
    config, _, steps, _, _ = deployed
    values = _join(steps["QualityGateFailed"]["Arguments"]["ErrorMessage"])
    assert config.ml.quality_metric in values[0]
    assert values[1] == _report_value(contracts.metric_json_path(config.ml.quality_metric))
    assert values[3] == {"Get": "Parameters.QualityThreshold"}
    assert "gender rule" in values[4]
    assert values[5] == _report_value(contracts.baseline_lift_json_path(config.ml.quality_metric))
    assert values[7] == {"Get": "Parameters.BaselineMargin"}


def test_register_is_pending_approval_in_the_group_with_the_evaluation_as_metrics(deployed):
    config, _, steps, _, _ = deployed
    arguments = steps["RegisterModel"]["Arguments"]
    assert arguments["ModelPackageGroupName"] == config.names.model_package_group
    assert arguments["ModelApprovalStatus"] == "PendingManualApproval"
    statistics = arguments["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert _join(statistics["S3Uri"]) == [
        {"Get": "Steps.ModelEvaluation.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
        contracts.EVALUATION_FILE,
    ]
    (container,) = arguments["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == {"Get": "Steps.TrainModel.ModelArtifacts.S3ModelArtifacts"}
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "serving_entry.py"


def test_one_scikit_learn_image_and_one_code_bundle_everywhere(deployed):
    config, _, steps, _, _ = deployed
    images = {
        steps["DataPreProcessing"]["Arguments"]["AppSpecification"]["ImageUri"],
        steps["ModelEvaluation"]["Arguments"]["AppSpecification"]["ImageUri"],
        steps["TrainModel"]["Arguments"]["AlgorithmSpecification"]["TrainingImage"],
        steps["RegisterModel"]["Arguments"]["InferenceSpecification"]["Containers"][0]["Image"],
    }
    assert images == {
        f"141502667606.dkr.ecr.{config.region}.amazonaws.com/sagemaker-scikit-learn:{SKLEARN_VERSION}-cpu-py3"
    }
    code = {
        i["S3Input"]["S3Uri"]
        for name in ("DataPreProcessing", "ModelEvaluation")
        for i in steps[name]["Arguments"]["ProcessingInputs"]
        if i["InputName"] == "code"
    }
    assert len(code) == 1
    # Serving uses the evaluation job's copy of that bundle in the artifacts bucket, not the CDK assets bucket.
    serving = steps["RegisterModel"]["Arguments"]["InferenceSpecification"]["Containers"][0]["Environment"]
    assert serving["SAGEMAKER_SUBMIT_DIRECTORY"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Steps.ModelEvaluation.ProcessingOutputConfig.Outputs['serving-code'].S3Output.S3Uri"},
                "sourcedir.tar.gz",
            ],
        }
    }
    bundle = code.pop()
    assert re.fullmatch(r"s3://\$\{CodeBucket\}/[0-9a-f]{64}\.gz", bundle)
    # Training runs the same bundle, or with MLflow on, the training bundle (the same files plus requirements.txt).
    training = json.loads(steps["TrainModel"]["Arguments"]["HyperParameters"]["sagemaker_submit_directory"])
    assert (training == bundle) is (config.mlflow.tracking == "none")
    assert re.fullmatch(r"s3://\$\{CodeBucket\}/[0-9a-f]{64}\.gz", training)


def test_with_mlflow_the_training_job_logs_its_run_with_the_environment_tags(deployed):
    config, _, steps, _, _ = deployed
    hyperparameters = steps["TrainModel"]["Arguments"]["HyperParameters"]
    if config.mlflow.tracking != "none":
        tags = json.loads(json.loads(hyperparameters["mlflow-run-tags"]))
        assert tags == {"env": config.name, "purpose": "sagemaker-pipeline", "owner": config.owner}
        assert tracking.parse_run_tags(json.dumps(tags)) == tags  # what ml/train.py accepts
    else:
        assert "mlflow-run-tags" not in hyperparameters


@pytest.mark.parametrize(
    ("step", "script"), [("DataPreProcessing", "preprocess.py"), ("ModelEvaluation", "evaluate.py")]
)
def test_processing_jobs_unpack_the_bundle_and_run_their_ml_script(deployed, step, script):
    _, _, steps, _, _ = deployed
    entrypoint = steps[step]["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
    assert entrypoint[:2] == ["/bin/bash", "-c"]
    code_uri = next(
        i["S3Input"]["S3Uri"] for i in steps[step]["Arguments"]["ProcessingInputs"] if i["InputName"] == "code"
    )
    assert f"tar -xzf {code_uri.rsplit('/', 1)[1]};" in entrypoint[2]  # the file the code input downloads
    assert f'python3 /opt/ml/processing/input/code/ml/{script} "$@"' in entrypoint[2]


def test_every_job_encrypts_volumes_and_outputs_with_the_key(deployed):
    _, _, steps, _, _ = deployed
    for name in ("DataPreProcessing", "ModelEvaluation"):
        arguments = steps[name]["Arguments"]
        assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == "${KmsKeyArn}"
        assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == "${KmsKeyArn}"
    training = steps["TrainModel"]["Arguments"]
    assert training["ResourceConfig"]["VolumeKmsKeyId"] == "${KmsKeyArn}"
    assert training["OutputDataConfig"]["KmsKeyId"] == "${KmsKeyArn}"


def test_placeholders_are_exactly_the_substituted_variables(deployed):
    _, _, _, body, variables = deployed
    used = set(re.findall(r"\$\{([^}]+)\}", body))
    pseudo = {name for name in used if name.startswith("AWS::")}
    assert pseudo <= {"AWS::Partition", "AWS::AccountId"}
    assert used - pseudo == set(variables)
    assert set(variables) <= set(PLACEHOLDERS)


def test_mlflow_tracking_only_where_the_environment_tracks_runs(deployed):
    config, _, steps, _, variables = deployed
    environment = steps["TrainModel"]["Arguments"].get("Environment", {})
    if config.mlflow.tracking != "none":
        assert environment["MLFLOW_TRACKING_URI"] == "${MlflowTrackingArn}"
        kind = "MlflowApp" if config.mlflow.tracking == "app" else "MlflowTrackingServer"
        assert variables["MlflowTrackingArn"] == {
            "Fn::GetAtt": [kind, "Arn" if kind == "MlflowApp" else "TrackingServerArn"]
        }
    else:
        assert "MLFLOW_TRACKING_URI" not in environment
        assert "MlflowTrackingArn" not in variables


SETTINGS = DefinitionSettings(
    pipeline_name="titanic-test-training",
    region="eu-west-1",
    model_package_group_name="titanic-test-models",
    code_bundle_key="0" * 64 + ".tar.gz",
    input_data_key=CURATED_DATASET_KEY,
    artifacts_prefix="pipelines/titanic-test-training",
    quality_metric="f1",
    quality_threshold=0.7,
    baseline_margin=0.05,
    processing_instance_type="ml.m5.large",
    processing_instance_count=2,
    training_instance_type="ml.m5.xlarge",
    preprocess_seed=7,
    hyperparameters={"max-depth": 5},
)


def build_definition(settings: DefinitionSettings) -> str:
    # Imported here, not at the top: the SageMaker SDK takes ~3 s to import, and every pytest worker collects this
    # module whether or not it runs a test that builds a definition.
    from stacks.training_pipeline_definition import build_definition

    return build_definition(settings)


@pytest.fixture(scope="module")
def built() -> str:
    return build_definition(SETTINGS)


def test_definition_is_byte_identical_across_builds(built):
    assert build_definition(SETTINGS) == built


def test_settings_reach_the_definition(built):
    definition = json.loads(built)
    steps = {s["Name"]: s for s in definition["Steps"]}
    threshold, margin = steps["QualityGate"]["Arguments"]["Conditions"]
    assert threshold["LeftValue"]["Std:JsonGet"]["Path"] == "binary_classification_metrics.f1.value"
    assert margin["LeftValue"]["Std:JsonGet"]["Path"] == "baseline.lift.f1"
    parameters = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    assert parameters["BaselineMargin"] == 0.05
    assert steps["TrainModel"]["Arguments"]["HyperParameters"]["max-depth"] == "5"


def test_ecr_repository_arn_names_the_registry_account_and_repository():
    uri = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    assert ecr_repository_arn(uri) == "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-scikit-learn"
