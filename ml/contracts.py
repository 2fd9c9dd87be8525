"""The contracts between ml/ and the systems that run it: SageMaker paths, file names, the evaluation report format.

The SageMaker pipeline (stacks/) and the local runner both build their paths from these names, so a step's
output is always where the next step looks for it.
"""

from __future__ import annotations

# SageMaker Processing mounts inputs and collects outputs under this root.
PROCESSING_ROOT = "/opt/ml/processing"

# DataPreProcessing: reads every CSV in RAW_INPUT_DIR, writes one folder per split (each a ProcessingOutput).
RAW_INPUT_DIR = f"{PROCESSING_ROOT}/input/raw"
SPLIT_OUTPUT_ROOT = f"{PROCESSING_ROOT}/output"
SPLITS = ("train", "validation", "test")


def split_file(split: str) -> str:
    """File name of a split inside its folder, e.g. train/train.csv."""
    return f"{split}.csv"


# TrainModel: SageMaker sets SM_CHANNEL_TRAIN / SM_CHANNEL_VALIDATION / SM_MODEL_DIR; the model folder holds these.
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
# The drift baseline of the model (ml/baseline.py), beside it: it ships inside model.tar.gz and the local registry
# keeps it with the model version, so a model and the traffic profile it is judged against never part.
BASELINE_FILE = "baseline.json"

# ModelEvaluation: the model artifact (model.tar.gz) and the test split come in, evaluation.json goes out.
MODEL_INPUT_DIR = f"{PROCESSING_ROOT}/model"
TEST_INPUT_DIR = f"{PROCESSING_ROOT}/test"
EVALUATION_OUTPUT_DIR = f"{PROCESSING_ROOT}/evaluation"
EVALUATION_FILE = "evaluation.json"
# ModelEvaluation also publishes the evaluated model's BASELINE_FILE as an object of its own (the model package's
# DriftCheckBaselines points at it), so the monitor reads a small JSON file instead of opening model.tar.gz.
BASELINE_OUTPUT_DIR = f"{PROCESSING_ROOT}/baseline"

# evaluation.json follows the Model Registry model-quality layout:
#   {"binary_classification_metrics": {"accuracy": {"value": 0.83, "standard_deviation": "NaN"}, ...}}
METRICS_SECTION = "binary_classification_metrics"
QUALITY_METRICS = ("accuracy", "precision", "recall", "f1", "auc")


def _known(metric: str) -> str:
    if metric not in QUALITY_METRICS:
        raise ValueError(f"unknown quality metric {metric!r}; expected one of {', '.join(QUALITY_METRICS)}")
    return metric


def metric_json_path(metric: str) -> str:
    """The JsonGet path of one metric in evaluation.json (the SageMaker pipeline's quality condition reads it)."""
    return f"{METRICS_SECTION}.{_known(metric)}.value"


# The trivial rule scored on the same test split (ml/gender_rule.py), in the same layout, plus the model's lift:
#   {"baseline": {"rule": "gender", "accuracy": {"value": 0.84, "standard_deviation": "NaN"}, ...,
#                 "lift": {"accuracy": 0.03, ...}}}     lift = model value - baseline value, per metric
# SageMaker pipeline conditions cannot add numbers, so the margin condition reads the lift:
#   JsonGet(metric_json_path(m)) >= threshold  AND  JsonGet(baseline_lift_json_path(m)) >= baseline_margin
BASELINE_SECTION = "baseline"
BASELINE_RULE_KEY = "rule"
BASELINE_LIFT_KEY = "lift"


def baseline_json_path(metric: str) -> str:
    """The JsonGet path of the baseline rule's value of one metric on the same test split."""
    return f"{BASELINE_SECTION}.{_known(metric)}.value"


def baseline_lift_json_path(metric: str) -> str:
    """The JsonGet path of the model's lift over the baseline rule (model minus baseline) for one metric."""
    return f"{BASELINE_SECTION}.{BASELINE_LIFT_KEY}.{_known(metric)}"


def json_path_value(document: dict, path: str) -> object:
    """The value at a dotted JsonGet path, the way the pipeline's condition resolves it (KeyError if absent)."""
    node: object = document
    for key in path.split("."):
        node = node[key]  # type: ignore[index]
    return node


# Serving: the request and response shapes of POST /invocations (local server and SageMaker endpoint alike).
JSON_CONTENT_TYPE = "application/json"
CSV_CONTENT_TYPE = "text/csv"
