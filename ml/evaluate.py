"""Phase 02: ModelEvaluation: score the trained model on the held-out test split; write evaluation.json and plots.
With --baseline-output-dir it also publishes the model's drift baseline (baseline.json, written by TrainModel).

SageMaker Processing runs this file with its default paths; the model arrives as model.tar.gz (extracted here),
locally --model-dir may be an already-extracted model folder. evaluation.json uses the Model Registry
model-quality layout (ml.contracts.METRICS_SECTION), which the pipeline's PropertyFile reads for its quality
condition; the gender rule scored on the same split and the model's lift over it follow in
ml.contracts.BASELINE_SECTION (the margin condition). PNG plots (confusion matrix, ROC curve) are written when
matplotlib is importable, else skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file (SageMaker runs files): make the `ml` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import json
import tarfile
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics

from ml import baseline, contracts, dataset, gender_rule, inference, schema

EXIT_INVALID_DATA = 2
MODEL_ARCHIVE = "model.tar.gz"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--model-dir", default=contracts.MODEL_INPUT_DIR, help="holds model.tar.gz or the model")
    parser.add_argument("--test-dir", default=contracts.TEST_INPUT_DIR, help="folder of the test split, or a file")
    parser.add_argument("--output-dir", default=contracts.EVALUATION_OUTPUT_DIR)
    parser.add_argument(
        "--baseline-output-dir",
        default=None,
        help=f"also publish the model's {contracts.BASELINE_FILE} here (the pipeline: {contracts.BASELINE_OUTPUT_DIR})",
    )
    return parser.parse_args(argv)


def extract_model(model_dir: Path, workspace: Path) -> Path:
    """The folder holding the model files: model_dir itself, or model.tar.gz in it extracted into workspace."""
    archive = model_dir / MODEL_ARCHIVE
    if not archive.is_file():
        return model_dir
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        for member in members:  # refuse absolute paths, '..' and links (Python 3.9 has no extraction filter)
            if (
                member.name.startswith("/")
                or ".." in Path(member.name).parts
                or not (member.isfile() or member.isdir())
            ):
                raise dataset.InvalidData(f"{archive}: unsafe archive member {member.name!r}")
        tar.extractall(workspace, members=members)  # noqa: S202 - members checked above
    return workspace


def quality_report(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """The model-quality section: QUALITY_METRICS (value, standard_deviation) plus the confusion matrix."""
    y_pred = (probabilities >= inference.DECISION_THRESHOLD).astype(np.int64)
    values = {
        "accuracy": metrics.accuracy_score(y_true, y_pred),
        "precision": metrics.precision_score(y_true, y_pred, zero_division=0),
        "recall": metrics.recall_score(y_true, y_pred, zero_division=0),
        "f1": metrics.f1_score(y_true, y_pred, zero_division=0),
        "auc": metrics.roc_auc_score(y_true, probabilities) if len(set(y_true.tolist())) == 2 else float("nan"),
    }
    assert tuple(values) == contracts.QUALITY_METRICS
    (tn, fp), (fn, tp) = metrics.confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist()
    section: dict[str, Any] = {
        name: {"value": round(float(v), 6), "standard_deviation": "NaN"} for name, v in values.items()
    }
    section["confusion_matrix"] = {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}  # actual -> predicted -> count
    return section


def baseline_report(y_true: np.ndarray, records: list[dict[str, Any]], model_section: dict[str, Any]) -> dict[str, Any]:
    """The gender rule on the same passengers, in the model-quality layout, and the model's lift over it."""
    section = quality_report(y_true, gender_rule.predict(records))
    lift = {name: round(model_section[name]["value"] - section[name]["value"], 6) for name in contracts.QUALITY_METRICS}
    return {contracts.BASELINE_RULE_KEY: gender_rule.NAME, **section, contracts.BASELINE_LIFT_KEY: lift}


def write_plots(y_true: np.ndarray, probabilities: np.ndarray, section: dict[str, Any], output_dir: Path) -> list[str]:
    """confusion_matrix.png and roc_curve.png; an empty list (and a note) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("ModelEvaluation: matplotlib is not installed here, plots skipped (evaluation.json is complete)")
        return []
    matrix = section["confusion_matrix"]
    cells = [[matrix["0"]["0"], matrix["0"]["1"]], [matrix["1"]["0"], matrix["1"]["1"]]]
    figure, axes = plt.subplots(figsize=(4, 4))
    axes.imshow(cells, cmap="Blues")
    for row in range(2):
        for column in range(2):
            axes.text(column, row, str(cells[row][column]), ha="center", va="center", fontsize=14)
    axes.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="actual", title="Confusion matrix (test)")
    axes.set_xticklabels(["died", "survived"])
    axes.set_yticklabels(["died", "survived"])
    figure.tight_layout()
    figure.savefig(output_dir / "confusion_matrix.png", dpi=80)
    plt.close(figure)

    fpr, tpr, _ = metrics.roc_curve(y_true, probabilities)
    figure, axes = plt.subplots(figsize=(4, 4))
    axes.plot(fpr, tpr, label=f"AUC {section['auc']['value']:.3f}")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve (test)")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(output_dir / "roc_curve.png", dpi=80)
    plt.close(figure)
    return ["confusion_matrix.png", "roc_curve.png"]


def publish_baseline(model_folder: Path, output_dir: Path) -> Path:
    """Copy the model's drift baseline, as TrainModel wrote it, to output_dir; InvalidData when it is missing or not
    a baseline this code reads (a model the monitor could not judge is not registered)."""
    source = model_folder / contracts.BASELINE_FILE
    try:
        text = source.read_bytes()
        baseline.loads(text, str(source))
    except (OSError, baseline.BaselineError) as error:
        raise dataset.InvalidData(f"the model has no usable drift baseline: {error}") from None
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / contracts.BASELINE_FILE
    dataset.write_atomically(target, text)
    return target


def evaluate(args: argparse.Namespace, plots: bool = True) -> dict[str, Any]:
    """Write evaluation.json (and the plots unless `plots` is False: the champion check needs numbers only)."""
    records, test_sha = dataset.read_records(args.test_dir)
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workspace:
        model_folder = extract_model(Path(args.model_dir), Path(workspace))
        model = inference.model_fn(str(model_folder))
        if args.baseline_output_dir:
            publish_baseline(model_folder, Path(args.baseline_output_dir))
    y_true = np.array([record[schema.LABEL] for record in records], dtype=np.int64)
    probabilities = inference.predict_fn(records, model)
    section = quality_report(y_true, probabilities)
    report = {
        contracts.METRICS_SECTION: section,
        contracts.BASELINE_SECTION: baseline_report(y_true, records, section),
        "test_data": {"rows": len(records), "sha256": test_sha},
        "model_sha256": model.metadata.get("model_sha256"),
    }
    text = json.dumps(report, indent=2, sort_keys=True) + "\n"
    dataset.write_atomically(output_dir / contracts.EVALUATION_FILE, text.encode("utf-8"))
    report["plots"] = write_plots(y_true, probabilities, section, output_dir) if plots else []
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = evaluate(args)
    except dataset.InvalidData as error:
        print(f"ModelEvaluation: invalid input, nothing written.\n{error}", file=sys.stderr)
        return EXIT_INVALID_DATA
    section = report[contracts.METRICS_SECTION]
    scores = ", ".join(f"{name} {section[name]['value']:.3f}" for name in contracts.QUALITY_METRICS)
    print(f"ModelEvaluation: {report['test_data']['rows']} test rows: {scores}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
