"""Phase 03: the training pipeline definition, built once per content hash of its inputs (constructs/synth_cache.py).

`build_definition` (stacks/training_pipeline_definition.py) imports the SageMaker SDK and takes seconds per
environment; its output depends only on the settings, the SDK version and the project code it runs. That code is
every file matched by DEFINITION_SOURCES; tests/infra/test_definition_cache.py fails when the builder imports a
project module these patterns miss, and rebuilds every environment's definition from scratch to compare.
"""

from __future__ import annotations

import dataclasses

from constructs import synth_cache
from stacks.training_pipeline_contract import DefinitionSettings

# Project files the definition builder reads, as globs from the project root (packages' __init__ included).
DEFINITION_SOURCES = (
    "stacks/__init__.py",
    "stacks/training_pipeline_*.py",
    "stacks/sagemaker_offline.py",
    "stacks/pipeline_definition_cache.py",
    "constructs/sklearn_image.py",
    "constructs/synth_cache.py",
    "config/*.py",  # the builder imports config.names, which loads the config package
    "ml/*.py",  # ml.contracts loads the ml package; ml/local/ (the local runner) is not imported
)


def definition_key(settings: DefinitionSettings) -> str:
    sources = synth_cache.source_files(DEFINITION_SOURCES)
    return synth_cache.content_key("pipeline-definition", dataclasses.asdict(settings), sources)


def pipeline_definition(settings: DefinitionSettings) -> str:
    """The definition JSON `build_definition(settings)` returns; the SDK is imported only when it is not cached."""

    def build() -> str:
        from stacks.training_pipeline_definition import build_definition  # the SDK import: seconds

        return build_definition(settings)

    return synth_cache.cached("pipeline-definition", definition_key(settings), build)
