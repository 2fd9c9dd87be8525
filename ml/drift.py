"""The drift check: captured endpoint traffic against the model's baseline, per request column and for predictions.

Core (standard library only; the monitor Lambda calls it): read_traffic(records) parses captured requests with the
serving contract (ml/payload.py) and the passenger schema, counting every unreadable request and schema-invalid
passenger; judge(traffic, baseline, thresholds) compares each baseline column's live profile with the reference
(PSI and a chi-square test, ml/stats.py; the missing rate) and returns a JSON-ready report; metrics(report) lists
the CloudWatch metrics the monitor publishes.

Below `min_records` captured records the report says "not enough traffic" and judges nothing.

CLI:  python -m ml.drift --capture <folder or file> --baseline <baseline.json, model folder or model.tar.gz>
      [--env dev] [--output-dir drift-report]
prints a table per feature, writes drift-report.json and, when something drifted, drift.png (matplotlib, optional).
Exit codes: 0 no drift (or not enough traffic), 3 drift (the report names the features), 2 unusable input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ml import baseline, capture, payload, stats

REPORT_VERSION = 1
REPORT_FILE, PLOT_FILE = "drift-report.json", "drift.png"
EXIT_OK, EXIT_UNUSABLE, EXIT_DRIFT = 0, 2, 3
OK, DRIFT, NOT_ENOUGH_TRAFFIC = "ok", "drift", "not_enough_traffic"
SCHEMA_VIOLATIONS = "schema_violations"  # the alarm name of a violation rate over its threshold
REQUEST, UNKNOWN_FIELD = "<request>", "<unknown field>"  # problem buckets that are not a column
PERSONAL_COLUMNS = frozenset({"Name", "Ticket"})  # reports never repeat what was wrong with these values
MAX_EXAMPLES = 20


@dataclass(frozen=True)
class Thresholds:
    """The `[monitoring]` values of config/environments/<env>.toml that the check needs (same names)."""

    psi_threshold: float
    significance: float
    min_records: int
    missing_rate_increase: float
    violation_rate_max: float
    prediction_drift_alarms: bool

    @classmethod
    def from_settings(cls, settings: Any) -> Thresholds:
        """From config's MonitoringSettings, or any mapping/object carrying the same names."""
        get = settings.get if isinstance(settings, Mapping) else lambda name: getattr(settings, name)
        return cls(**{f.name: get(f.name) for f in fields(cls)})


@dataclass
class Traffic:
    """Captured invocations, parsed. A "record" is one passenger, or one request that could not be read at all."""

    captures: int = 0
    requests: int = 0
    passengers: list[dict[str, Any]] = field(default_factory=list)  # schema-valid, typed
    invalid_passengers: int = 0
    unreadable_requests: int = 0
    problems: Counter = field(default_factory=Counter)  # column (or REQUEST / UNKNOWN_FIELD) -> records
    examples: list[dict[str, Any]] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    positives: int = 0
    unreadable_responses: int = 0
    event_versions: Counter = field(default_factory=Counter)
    first_inference_time: str | None = None
    last_inference_time: str | None = None

    @property
    def records(self) -> int:
        return len(self.passengers) + self.invalid_passengers + self.unreadable_requests


def read_traffic(records: Iterable[capture.Record]) -> Traffic:
    traffic = Traffic()
    for record in records:
        traffic.captures += 1
        traffic.event_versions[record.event_version or "<none>"] += 1
        if record.inference_time:
            traffic.first_inference_time = min(
                traffic.first_inference_time or record.inference_time, record.inference_time
            )
            traffic.last_inference_time = max(traffic.last_inference_time or "", record.inference_time)
        if record.input is not None:
            _read_request(record, record.input, traffic)
        if record.output is not None:
            _read_response(record, record.output, traffic)
    return traffic


def _example(traffic: Traffic, record: capture.Record, problem: str) -> None:
    if len(traffic.examples) < MAX_EXAMPLES:
        where = {"source": record.source, "line": record.line, "event_id": record.event_id}
        traffic.examples.append({**where, "problem": problem})


def _read_request(record: capture.Record, request: capture.Payload, traffic: Traffic) -> None:
    traffic.requests += 1
    try:
        instances = payload.request_instances(request.body(), request.content_type)
        if not instances:
            raise payload.PayloadError("no passengers in the request")
    except ValueError as error:  # PayloadError, undecodable BASE64
        traffic.unreadable_requests += 1
        traffic.problems[REQUEST] += 1
        _example(traffic, record, f"request: {error}")
        return
    for index, instance in enumerate(instances):
        values, unknown, errors = payload.check_instance(instance)
        if not unknown and not errors:
            traffic.passengers.append(values)
            continue
        traffic.invalid_passengers += 1
        columns = {column for column, _ in errors} | ({UNKNOWN_FIELD} if unknown else set())
        traffic.problems.update(columns)
        reasons = [f"{c} {_withheld(c, r)}" for c, r in errors]
        reasons += [f"unknown field(s) {', '.join(unknown)}"] if unknown else []
        _example(traffic, record, f"instance {index}: {'; '.join(reasons)}")


def _withheld(column: str, reason: str) -> str:
    """A schema reason, without the value when the column is personal data (the reason may quote the value)."""
    if column in PERSONAL_COLUMNS and reason not in ("is missing", "is required but empty"):
        return "is invalid (value withheld)"
    return reason


def _read_response(record: capture.Record, response: capture.Payload, traffic: Traffic) -> None:
    try:
        predictions = payload.parse_response(response.body(), response.content_type)
    except ValueError as error:  # includes JSON and UTF-8 decoding errors
        traffic.unreadable_responses += 1
        _example(traffic, record, f"response: {error}")
        return
    traffic.probabilities += [probability for _, probability in predictions]
    traffic.positives += sum(survived for survived, _ in predictions)


def _histograms(reference: Mapping[str, Any], live: Mapping[str, Any]) -> tuple[list[int], list[int], list[str]]:
    """(reference counts, live counts, labels) of what a distribution test compares; for a presence column that is
    present vs missing (its whole distribution), else the present values' bins or categories ([] when none)."""
    if reference["kind"] == baseline.PRESENCE:
        counts = [[side["rows"] - side["missing"], side["missing"]] for side in (reference, live)]
        return counts[0], counts[1], ["present", "missing"]
    if "counts" in reference:
        return list(reference["counts"]), list(live["counts"]), baseline.bin_labels(reference)
    return [], [], []


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [round(count / total, 6) if total else 0.0 for count in counts]


def _compare(name: str, reference: Mapping[str, Any], live: Mapping[str, Any], th: Thresholds) -> dict[str, Any]:
    """One row of the report: the statistics, whether they cross the thresholds, and why."""
    reference_counts, live_counts, labels = _histograms(reference, live)
    row: dict[str, Any] = {
        "feature": name,
        "kind": reference["kind"],
        "rows": live["rows"],
        "missing_rate_reference": reference["missing_rate"],
        "missing_rate_live": live["missing_rate"],
        "bins": labels,
        "reference_frequencies": _shares(reference_counts),
        "live_frequencies": _shares(live_counts),
        "live_counts": live_counts,
        "psi": None,
        "p_value": None,
        "reasons": [],
        "notes": [],
    }
    if labels and sum(live_counts) >= th.min_records:
        psi = stats.psi(reference_counts, live_counts)
        _, dof, p_value = stats.homogeneity(reference_counts, live_counts)
        row.update(psi=round(psi, 6), dof=dof, p_value=float(f"{p_value:.6g}"))
        if psi >= th.psi_threshold and p_value < th.significance:
            row["reasons"].append(f"distribution moved: PSI {psi:.3f} >= {th.psi_threshold:g}, p {p_value:.2g}")
    elif labels:
        row["notes"].append(f"distribution not judged: {sum(live_counts)} values < min_records {th.min_records}")
    increase = (live["missing_rate"] or 0.0) - (reference["missing_rate"] or 0.0)
    if reference["kind"] != baseline.PRESENCE and live["rows"] and increase >= th.missing_rate_increase:
        ref_missing, ref_rows = reference["missing"], reference["rows"]
        _, _, p_missing = stats.homogeneity(
            [ref_missing, ref_rows - ref_missing], [live["missing"], live["rows"] - live["missing"]]
        )
        if p_missing < th.significance:
            row["reasons"].append(
                f"missing rate {reference['missing_rate']:.2f} -> {live['missing_rate']:.2f} "
                f"(+{increase:.2f} >= +{th.missing_rate_increase:g})"
            )
    row["drifted"] = bool(row["reasons"])
    return row


def judge(traffic: Traffic, reference: Mapping[str, Any], th: Thresholds) -> dict[str, Any]:
    """The report of one window of traffic against a baseline (see the module docstring)."""
    rate = traffic.records and (traffic.invalid_passengers + traffic.unreadable_requests) / traffic.records
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "baseline_version": reference["baseline_version"],
        "thresholds": asdict(th),
        "traffic": {
            "captures": traffic.captures,
            "requests": traffic.requests,
            "records": traffic.records,
            "valid_passengers": len(traffic.passengers),
            "responses_read": len(traffic.probabilities),
            "unreadable_responses": traffic.unreadable_responses,
            "event_versions": dict(sorted(traffic.event_versions.items())),
            "first_inference_time": traffic.first_inference_time,
            "last_inference_time": traffic.last_inference_time,
        },
        "violations": {
            "invalid_passengers": traffic.invalid_passengers,
            "unreadable_requests": traffic.unreadable_requests,
            "rate": round(rate, 6),
            "by_column": dict(sorted(traffic.problems.items())),
            "examples": traffic.examples,
        },
        "features": [],
        "prediction": None,
        "alarms": [],
    }
    if traffic.records < th.min_records:
        report["status"] = NOT_ENOUGH_TRAFFIC
        report["message"] = f"not enough traffic: {traffic.records} records < min_records {th.min_records}"
        return report
    if rate > th.violation_rate_max:
        report["alarms"].append(SCHEMA_VIOLATIONS)
    for name, ref in sorted(reference["features"].items(), key=lambda item: _order(item[0])):
        live = baseline.profile(ref["kind"], [passenger.get(name) for passenger in traffic.passengers], ref)
        row = _compare(name, ref, live, th)
        report["features"].append(row)
        report["alarms"] += [name] if row["drifted"] else []
    ref_prediction = reference[baseline.PREDICTION]
    live = baseline.prediction_profile(traffic.probabilities, ref_prediction["decision_threshold"], ref_prediction)
    row = {**_compare(baseline.PREDICTION, ref_prediction, live, th), "kind": "probability"}
    row.update(positive_rate_reference=ref_prediction["positive_rate"], positive_rate_live=live["positive_rate"])
    row["alarming"] = th.prediction_drift_alarms
    report["prediction"] = row
    report["alarms"] += [baseline.PREDICTION] if row["drifted"] and th.prediction_drift_alarms else []
    report["status"] = DRIFT if report["alarms"] else OK
    return report


def _order(name: str) -> int:
    """Schema order for the table (a baseline column the schema no longer has goes last)."""
    names = [column for column, _ in baseline.monitored_columns()]
    return names.index(name) if name in names else len(names)


def check(records: Iterable[capture.Record], reference: Mapping[str, Any], th: Thresholds) -> dict[str, Any]:
    """Records (capture.parse_lines / read_location) + baseline (baseline.load / loads) -> report."""
    return judge(read_traffic(records), reference, th)


def metrics(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """CloudWatch metric data of a report: {name, value, unit, dimensions}; the publisher adds the endpoint's
    dimensions. With not enough traffic only CapturedRecords is emitted (the alarm then sees missing data)."""

    def metric(name: str, value: float, unit: str = "None", **dimensions: str) -> dict[str, Any]:
        return {"name": name, "value": float(value), "unit": unit, "dimensions": dimensions}

    out = [metric("CapturedRecords", report["traffic"]["records"], "Count")]
    if report["status"] == NOT_ENOUGH_TRAFFIC:
        return out
    drifted = [name for name in report["alarms"] if name != SCHEMA_VIOLATIONS]
    out += [metric("DriftDetected", report["status"] == DRIFT), metric("DriftedFeatures", len(drifted), "Count")]
    out.append(metric("SchemaViolationRate", report["violations"]["rate"]))
    for row in report["features"]:
        if row["psi"] is not None:
            out.append(metric("FeaturePSI", row["psi"], Feature=row["feature"]))
        out.append(metric("FeatureMissingRate", row["missing_rate_live"] or 0.0, Feature=row["feature"]))
    prediction = report["prediction"]
    if prediction["psi"] is not None:
        out.append(metric("PredictionPSI", prediction["psi"]))
    if prediction["positive_rate_live"] is not None:
        out.append(metric("PositiveRate", prediction["positive_rate_live"]))
    return out


def exit_code(report: Mapping[str, Any]) -> int:
    return EXIT_DRIFT if report["status"] == DRIFT else EXIT_OK


def _environment_thresholds(env: str) -> Thresholds:
    from config import load_environment  # the CLI on a checkout only; the Lambda passes Thresholds itself

    return Thresholds.from_settings(load_environment(env).monitoring)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--capture", required=True, help="a capture .jsonl file or a folder of them (recursive)")
    parser.add_argument("--baseline", required=True, help="baseline.json, a model folder or a model.tar.gz")
    parser.add_argument("--env", default=os.environ.get("ENV", "dev"), help="thresholds: config/environments/<env>")
    parser.add_argument("--output-dir", default="drift-report", help=f"where {REPORT_FILE} and {PLOT_FILE} go")
    args = parser.parse_args(argv)
    try:
        thresholds = _environment_thresholds(args.env)
    except Exception as error:  # config's ConfigError (config is imported late): a message, not a traceback
        print(f"drift: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        reference = baseline.load(args.baseline)
        records = capture.read_location(args.capture)
    except (capture.CaptureFormatError, baseline.BaselineError, OSError) as error:
        print(f"drift: unusable input: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    report = check(records, reference, thresholds)
    report["inputs"] = {"capture": str(args.capture), "baseline": str(args.baseline), "env": args.env}
    from ml import drift_report  # presentation (the table; matplotlib for the plot, when drawn)

    print(drift_report.table(report))
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / REPORT_FILE).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"report: {output / REPORT_FILE}")
    if drift_report.plotted_rows(report):
        plotted = drift_report.write_plot(report, output / PLOT_FILE)
        print(f"plot: {output / PLOT_FILE}" if plotted else "plot: skipped (matplotlib is not installed)")
    return exit_code(report)


if __name__ == "__main__":
    sys.exit(main())
