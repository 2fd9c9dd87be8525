"""Phase 03: a folder of code shipped to SageMaker as one reproducible tar.gz CDK asset.

SageMaker's script mode wants a `sourcedir.tar.gz` (the training toolkit and the serving container download and
unpack it); CDK zips directories, so the tarball is built here at synth time. It is byte-reproducible: sorted entries,
fixed mtime/owner/mode and a gzip header without timestamp or file name, so the same files give the same asset hash
and the same pipeline definition on every machine.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_s3_assets as s3_assets

from constructs import Construct

# 1980-01-01: the oldest timestamp zip-based tools accept; any fixed value works for tar.
FIXED_MTIME = 315532800


def collect(root: Path, package: str, exclude: tuple[str, ...] = ()) -> dict[str, Path]:
    """Every .py file of `root/package` (sub-packages too, except `exclude`d folders) as {archive name: path}."""
    files = {}
    for path in sorted((root / package).rglob("*.py")):
        relative = path.relative_to(root)
        if "__pycache__" in relative.parts or any(part in exclude for part in relative.parts[1:]):
            continue
        files[relative.as_posix()] = path
    return files


def build_tarball(files: Mapping[str, Path]) -> bytes:
    """The tar.gz bytes of `files` ({archive name: source path}), identical for identical contents."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            data = Path(files[name]).read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = FIXED_MTIME
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return compressed.getvalue()


def write_tarball(files: Mapping[str, Path], directory: Path | None = None) -> Path:
    """Write the tarball under a content-addressed name (a second synth reuses the same file)."""
    data = build_tarball(files)
    directory = directory or Path(tempfile.gettempdir()) / "titanic-code-bundles"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{hashlib.sha256(data).hexdigest()}.tar.gz"
    if not path.exists():
        path.write_bytes(data)
    return path


class CodeBundle(Construct):
    """The tarball as a file asset in the CDK bootstrap bucket, addressed by its content hash.

    `s3_uri` is what SageMaker reads; `object_arn` is the one object an execution role needs to read (and
    `bucket_arn` with an `s3:prefix` condition of `object_key` what it needs to list it).
    """

    def __init__(self, scope: Construct, construct_id: str, *, files: Mapping[str, Path]) -> None:
        super().__init__(scope, construct_id)
        if not files:
            raise ValueError("a code bundle needs at least one file")
        self.files = dict(files)
        self.asset = s3_assets.Asset(self, "Asset", path=str(write_tarball(files)))
        self.bucket_name = self.asset.s3_bucket_name
        self.object_key = self.asset.s3_object_key
        self.s3_uri = self.asset.s3_object_url
        partition = Stack.of(self).partition
        self.bucket_arn = f"arn:{partition}:s3:::{self.bucket_name}"
        self.object_arn = f"{self.bucket_arn}/{self.object_key}"
