"""How a drift report is shown to people: the per-feature table (stdout) and the baseline-vs-live plot (PNG).

The table is standard library; the plot needs matplotlib (Agg backend, imported only when a plot is drawn), which the
local venv has and the monitor Lambda does not need: the Lambda publishes metrics and the JSON report.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml import baseline
from ml.drift import DRIFT, NOT_ENOUGH_TRAFFIC


def table(report: Mapping[str, Any]) -> str:
    """The per-feature table people read (stdout of the CLI and of the local flow's step)."""
    rows = [("feature", "kind", "rows", "missing ref -> live", "PSI", "p-value", "result")]

    def number(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    lines = [*report["features"], *([report["prediction"]] if report["prediction"] else [])]
    for row in lines:
        missing = f"{number(row['missing_rate_reference'], '.3f')} -> {number(row['missing_rate_live'], '.3f')}"
        if row["feature"] == baseline.PREDICTION and not row.get("alarming"):
            result = "DRIFT (not alarming)" if row["drifted"] else "ok (not alarming)"
        else:
            result = "DRIFT" if row["drifted"] else "ok"
        detail = "; ".join(row["reasons"] + row["notes"]) or "within thresholds"
        statistics = (number(row["psi"], ".3f"), number(row["p_value"], ".2g"))
        rows.append((row["feature"], row["kind"], str(row["rows"]), missing, *statistics, f"{result}: {detail}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(cell.ljust(width) for cell, width in zip(r, widths)).rstrip() for r in rows]
    out.insert(1, "  ".join("-" * width for width in widths))
    violations, traffic, th = report["violations"], report["traffic"], report["thresholds"]
    bad = violations["invalid_passengers"] + violations["unreadable_requests"]
    out.append(
        f"schema violations: {bad} of {traffic['records']} records ({violations['rate']:.1%}, "
        f"max {th['violation_rate_max']:.1%}); responses without predictions: {traffic['unreadable_responses']}"
    )
    out.append(verdict(report))
    return "\n".join(out)


def verdict(report: Mapping[str, Any]) -> str:
    traffic = report["traffic"]
    counted = f"{traffic['records']} records in {traffic['requests']} requests"
    if report["status"] == NOT_ENOUGH_TRAFFIC:
        return f"verdict: {report['message']} ({counted}); nothing judged"
    if report["status"] == DRIFT:
        return f"verdict: DRIFT in {', '.join(report['alarms'])} ({counted})"
    return f"verdict: no drift ({len(report['features'])} features within thresholds, {counted})"


def headline(report: Mapping[str, Any]) -> str:
    """The verdict in a few words (the local flow's summary table)."""
    if report["status"] == NOT_ENOUGH_TRAFFIC:
        return report["message"]
    if report["status"] == DRIFT:
        return f"DRIFT in {', '.join(report['alarms'])}"
    return f"no drift ({len(report['features'])} features)"


def plotted_rows(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The rows a plot shows: every drifted feature, and the prediction when it moved (even if not alarming)."""
    rows = [row for row in report["features"] if row["drifted"]]
    prediction = report.get("prediction")
    return rows + ([prediction] if prediction and prediction["drifted"] else [])


def write_plot(report: Mapping[str, Any], path: Path) -> bool:
    """One panel per drifted feature: reference vs live share per bin (and missing share). False without matplotlib."""
    rows = plotted_rows(report)
    if not rows:
        return False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(len(rows), 1, figsize=(9, 3.2 * len(rows)), squeeze=False)
    for axis, row in zip(axes[:, 0], rows):
        labels, reference, live = list(row["bins"]), list(row["reference_frequencies"]), list(row["live_frequencies"])
        if row["kind"] in ("numeric", "categorical"):  # shares of all records: present values by bin, then missing
            reference = [f * (1 - (row["missing_rate_reference"] or 0)) for f in reference]
            live = [f * (1 - (row["missing_rate_live"] or 0)) for f in live]
            labels.append("missing")
            reference.append(row["missing_rate_reference"] or 0.0)
            live.append(row["missing_rate_live"] or 0.0)
        positions = range(len(labels))
        axis.bar([p - 0.2 for p in positions], reference, width=0.4, label="baseline (training)", color="#7f9fbf")
        axis.bar([p + 0.2 for p in positions], live, width=0.4, label="live (captured)", color="#d9822b")
        axis.set_xticks(list(positions))
        axis.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        axis.set_ylabel("share of records")
        informational = " (informational, not alarming)" if row.get("alarming") is False else ""
        explanation = "; ".join(row["reasons"] + row["notes"])
        axis.set_title(f"{row['feature']} ({row['kind']}){informational}: {explanation}", fontsize=9)
        axis.legend(fontsize=8)
    figure.suptitle(f"Drift: {', '.join(r['feature'] for r in rows)} ({report['traffic']['records']} records)")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.45 / (3.2 * len(rows))))  # room for the suptitle
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True
