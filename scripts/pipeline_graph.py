"""Phase 03: draw the SageMaker pipeline graph from a synthesized training template (no AWS needed).

    python scripts/pipeline_graph.py cdk.out/titanic-dev-training.template.json docs/images/03-pipeline-graph.png

Edges come from the definition itself: a step that reads another step's properties (`Steps.<name>...`) depends on
it, and a condition step leads to its if-steps ("true") and else-steps ("false"). Matplotlib draws it (Graphviz is
not installed on the build machines).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

REFERENCE = re.compile(r'"Steps\.([A-Za-z0-9_-]+)[.\[]')
COLOURS = {
    "Processing": "#d8e8f8",
    "Training": "#fde2c8",
    "Condition": "#fff3b0",
    "RegisterModel": "#d5f0d5",
    "Fail": "#f8d0d0",
}


def definition_from_template(template: dict) -> dict:
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    body = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][0]
    return json.loads(body)


def graph(definition: dict) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """({step: type}, [(from, to, label)]) for every step, nested condition branches included."""
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []

    def visit(step: dict) -> None:
        nodes[step["Name"]] = step["Type"]
        for source in sorted(set(REFERENCE.findall(json.dumps(step.get("Arguments", {}))))):
            if source != step["Name"] and step["Type"] != "Condition":
                edges.append((source, step["Name"], ""))
        for source in step.get("DependsOn", []):
            edges.append((source, step["Name"], ""))
        if step["Type"] == "Condition":
            for source in sorted(set(REFERENCE.findall(json.dumps(step["Arguments"]["Conditions"])))):
                edges.append((source, step["Name"], ""))
            for branch, label in (("IfSteps", "true"), ("ElseSteps", "false")):
                for nested in step["Arguments"][branch]:
                    visit(nested)
                    edges.append((step["Name"], nested["Name"], label))

    for step in definition["Steps"]:
        visit(step)
    # Keep only direct edges: a reference already implied by a longer path is drawn once, through that path.
    return nodes, _reduce(edges)


def _reduce(edges: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    successors: dict[str, set[str]] = {}
    for source, target, _ in edges:
        successors.setdefault(source, set()).add(target)

    def reachable(start: str, skip: str) -> set[str]:
        seen, stack = set(), [n for n in successors.get(start, ()) if n != skip]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(successors.get(node, ()))
        return seen

    unique = list(dict.fromkeys(edges))
    return [(s, t, label) for s, t, label in unique if t not in reachable(s, skip=t)]


def layers(nodes: dict[str, str], edges: list[tuple[str, str, str]]) -> dict[str, int]:
    depth = dict.fromkeys(nodes, 0)
    for _ in nodes:
        for source, target, _label in edges:
            depth[target] = max(depth[target], depth[source] + 1)
    return depth


def draw(definition: dict, output: Path, title: str) -> None:
    nodes, edges = graph(definition)
    depth = layers(nodes, edges)
    rows: dict[int, list[str]] = {}
    for node in nodes:
        rows.setdefault(depth[node], []).append(node)
    position = {}
    for level, members in rows.items():
        for index, node in enumerate(members):
            position[node] = ((index - (len(members) - 1) / 2) * 3.2, -level * 1.5)

    figure, axes = plt.subplots(figsize=(8, 1.5 * len(rows) + 1))
    for source, target, label in edges:
        (x1, y1), (x2, y2) = position[source], position[target]
        axes.annotate(
            "", xy=(x2, y2 + 0.32), xytext=(x1, y1 - 0.32), arrowprops={"arrowstyle": "-|>", "color": "#555555"}
        )
        if label:
            axes.text((x1 + x2) / 2 + 0.1, (y1 + y2) / 2, label, fontsize=9, color="#333333")
    for node, (x, y) in position.items():
        axes.add_patch(
            FancyBboxPatch(
                (x - 1.3, y - 0.3),
                2.6,
                0.6,
                boxstyle="round,pad=0.02",
                facecolor=COLOURS.get(nodes[node], "#eeeeee"),
                edgecolor="#333333",
            )
        )
        axes.text(x, y + 0.07, node, ha="center", va="center", fontsize=10, fontweight="bold")
        axes.text(x, y - 0.16, nodes[node], ha="center", va="center", fontsize=8, color="#444444")
    xs = [x for x, _ in position.values()]
    axes.set_xlim(min(xs) - 1.6, max(xs) + 1.6)
    axes.set_ylim(-1.5 * (len(rows) - 1) - 0.6, 0.6)
    axes.set_title(title, fontsize=11)
    axes.axis("off")
    output.parent.mkdir(parents=True, exist_ok=True)
    # Fixed metadata so that regenerating an unchanged graph gives the same file.
    figure.savefig(output, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    template_path, output = Path(argv[0]), Path(argv[1])
    definition = definition_from_template(json.loads(template_path.read_text()))
    name = template_path.name.removesuffix(".template.json")
    draw(definition, output, f"{name}: SageMaker pipeline (from the synthesized definition)")
    nodes, edges = graph(definition)
    for source, target, label in edges:
        print(f"{source} -> {target}" + (f" [{label}]" if label else ""))
    print(f"wrote {output} ({len(nodes)} steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
