"""The committed data file is the documented one and honours the passenger contract."""

from __future__ import annotations

import hashlib

from ml import dataset

from .conftest import DATA, REPO

SHA256 = "4a437fde05fe5264e1701a7387ac6fb75393772ba38bb2c9c566405af5af4bd7"


def test_data_file_is_the_documented_version() -> None:
    assert hashlib.sha256(DATA.read_bytes()).hexdigest() == SHA256
    assert SHA256 in (REPO / "data" / "README.md").read_text()


def test_data_file_passes_the_schema() -> None:
    records, digest = dataset.read_records(DATA)
    assert len(records) == 891
    assert sum(r["Survived"] for r in records) == 342
    assert digest == SHA256
