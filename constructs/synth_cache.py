"""Phase 00: a content-addressed cache for values that synthesis derives slowly but deterministically.

The training pipeline definition and the scikit-learn image URI come from the SageMaker SDK, whose import alone
takes seconds. Both are pure functions of their inputs, so each value is stored under a SHA-256 of everything it is
built from (the settings, the source files of the code that builds it, the SDK version): a changed input is a new
key, never a stale hit. The folder is git-ignored; deleting it only costs one slower synthesis.
`SYNTH_CACHE=off` builds everything from scratch (tests/infra/test_definition_cache.py compares the two).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

from config.paths import PROJECT_ROOT

CACHE_FOLDER = PROJECT_ROOT / ".cache" / "synth"
# The SDK and the libraries it builds with: their data (image tables, schemas) is part of what a value depends on.
SDK_DISTRIBUTIONS = ("sagemaker", "sagemaker-core", "boto3", "botocore")


def enabled() -> bool:
    return os.environ.get("SYNTH_CACHE", "on") != "off"


def folder() -> Path:
    return Path(os.environ.get("SYNTH_CACHE_DIR") or CACHE_FOLDER)


def sdk_versions() -> dict[str, str]:
    """Installed versions read from package metadata: no import of the packages themselves."""
    return {name: metadata.version(name) for name in SDK_DISTRIBUTIONS}


def source_files(patterns: Iterable[str]) -> list[Path]:
    """The project files matching the glob patterns (relative to the project root), sorted."""
    return sorted({path for pattern in patterns for path in PROJECT_ROOT.glob(pattern) if path.is_file()})


def content_key(kind: str, value: object, sources: Iterable[Path]) -> str:
    """SHA-256 over the kind, the value's JSON, the SDK versions, the Python version and each source file's bytes."""
    digest = hashlib.sha256()
    for part in (kind, json.dumps(value, sort_keys=True), json.dumps(sdk_versions()), sys.version.split()[0]):
        digest.update(part.encode() + b"\0")
    for path in sources:
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cached(kind: str, key: str, build: Callable[[], str]) -> str:
    """The stored value of `key`, or `build()` stored under it (written atomically: parallel synths may race)."""
    if not enabled():
        return build()
    path = folder() / kind / f"{key}.txt"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    value = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False) as temporary:
        temporary.write(value)
    os.replace(temporary.name, path)
    return value
