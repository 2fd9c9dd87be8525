"""Benchmark helper: one synthesis of the full app, timed per phase, printed as JSON (scripts/bench_synth.py runs it).

Usage: python scripts/synth_phases.py OUTDIR [--no-nag]
The phases: importing CDK and cdk-nag, importing the project, importing the SageMaker SDK (only when a pipeline
definition is not cached: SYNTH_CACHE=off forces it), pipeline definitions and image URIs, the construct tree, asset
bundling, the mandatory-tags check (a validation), and `app.synth()` (cdk-nag, template and asset writing, in the
jsii process). cdk-nag's own share is `app.synth()` with the plugin minus without it (--no-nag), two runs:
scripts/bench_synth.py. Also counted: the calls into the jsii kernel while the tree is built and during `app.synth()`
(validations calling back into Python), each a round trip to Node.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class PhaseClock:
    """Seconds per phase; a call nested inside one already being timed (the image URI inside a definition) counts
    once, in the outer phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._depth = 0

    def wrap(self, owner: object, attribute: str, phase: str) -> None:
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            self._depth += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds[phase] += time.perf_counter() - start

        setattr(owner, attribute, timed)

    def span(self, phase: str, start: float) -> None:
        self.seconds[phase] += time.perf_counter() - start


class KernelCalls:
    """Calls from Python into the jsii kernel (each a round trip over the pipe to Node): the generated bindings call
    `jsii.create`, `jsii.invoke`, `jsii.get` and the rest through the `jsii` module, so counting them there sees all."""

    FUNCTIONS = ("create", "invoke", "ainvoke", "get", "set", "sinvoke", "sainvoke", "sget", "sset")

    def __init__(self) -> None:
        import jsii

        self.count = 0
        for name in self.FUNCTIONS:
            setattr(jsii, name, self._counted(getattr(jsii, name)))

    def _counted(self, function):
        @functools.wraps(function)
        def counted(*args, **kwargs):
            self.count += 1
            return function(*args, **kwargs)

        return counted


def main(outdir: str, *flags: str) -> int:
    clock = PhaseClock()
    start = time.perf_counter()
    import aws_cdk  # noqa: F401
    import cdk_nag  # noqa: F401

    clock.span("import CDK and cdk-nag", start)
    start = time.perf_counter()
    import app as project_app
    import constructs.code_bundle
    import constructs.compliance
    import constructs.python_function
    import stacks.serving
    import stacks.training
    from config import load_all_environments

    clock.span("import project code", start)
    for module in (stacks.training, stacks.serving):
        clock.wrap(module, "sklearn_image_uri", "definitions and image URIs (cache or SDK)")
    clock.wrap(stacks.training, "pipeline_definition", "definitions and image URIs (cache or SDK)")
    clock.wrap(constructs.code_bundle, "write_tarball", "code bundle tarballs")
    clock.wrap(constructs.python_function._CopyFiles, "try_bundle", "Lambda asset bundling")
    clock.wrap(constructs.compliance.MandatoryTagsCheck, "validate", "mandatory-tags check")

    calls = KernelCalls()
    start = time.perf_counter()
    sdk_before = "sagemaker" in sys.modules
    app, _ = project_app.create_app(load_all_environments(), outdir, nag="--no-nag" not in flags)
    tree = time.perf_counter() - start
    tree_calls = calls.count
    start = time.perf_counter()
    app.synth()
    synth = time.perf_counter() - start

    seconds = clock.seconds
    # Definitions and tarballs are built while the tree is; Lambda bundling and the tags check run inside app.synth().
    definitions = seconds["definitions and image URIs (cache or SDK)"]
    seconds["construct tree"] = tree - definitions - seconds["code bundle tarballs"]
    inside_synth = seconds["mandatory-tags check"] + seconds["Lambda asset bundling"]
    seconds["app.synth(): nag, template and asset writing"] = synth - inside_synth
    result = {
        "nag": "--no-nag" not in flags,
        "sdk_imported": not sdk_before and "sagemaker" in sys.modules,
        "phases": {phase: round(value, 3) for phase, value in seconds.items()},
        "jsii_calls": {"construct tree": tree_calls, "app.synth()": calls.count - tree_calls},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
