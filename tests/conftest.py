"""Suite-wide safety: no test can reach a real AWS endpoint or use real credentials. Shared fixtures: the session
synthesis, the check that every AWS call a Lambda handler makes is known to the access model."""

import functools
import os
from pathlib import Path

import botocore.client
import botocore.loaders
import botocore.session
import pytest

# Set before any AWS SDK client exists. Fake credentials mean a call that escapes moto fails to authenticate
# instead of touching a real account; the metadata endpoint is never probed.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)
for variable in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    os.environ.pop(variable, None)

# One botocore loader for the whole run. moto gives every test a new boto3 default session, and each new session
# would parse the service models again (SageMaker's alone is megabytes of JSON): 40% of a workflow test's time went
# there. The loader hands out the same read-only model dicts that the clients of one session already share.
botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)

# One client class per service model for the whole run. For every client, botocore builds a class with a method per
# operation (SageMaker: ~400; half the cost of a client). The class depends only on the service model, which the one
# loader above shares, and on the class-creation handlers, botocore's and boto3's, the same in every session here.
_client_classes: dict[tuple[str, int], tuple[type, dict]] = {}
_build_client_class = botocore.client.ClientCreator._create_client_class


def _client_class_once(self, service_name, service_model):
    key = (service_name, id(service_model._service_description))  # the entry keeps the description alive
    if key not in _client_classes:
        _client_classes[key] = (
            _build_client_class(self, service_name, service_model),
            service_model._service_description,
        )
    return _client_classes[key][0]


botocore.client.ClientCreator._create_client_class = _client_class_once


# ------------------------------------------------------------------------------------------- shared fixtures
# `make test` synthesizes once into cdk.out and names it here, so pytest, cfn-lint and checkov read one assembly.
ASSEMBLY_VARIABLE = "TEST_CLOUD_ASSEMBLY"


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory):
    """The whole app (every environment) synthesized once per session, or the assembly `make` synthesized for this
    run (TEST_CLOUD_ASSEMBLY); infra and access tests read it. tests/infra/test_offline.py synthesizes afresh and
    requires byte-identical templates, so a stale assembly fails the session."""
    from tests.infra.conftest import read_synthesis, synthesize  # here: only sessions that need a synthesis load CDK

    given = os.environ.get(ASSEMBLY_VARIABLE)
    if given:
        return read_synthesis(Path(given).resolve())
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


# ------------------------------------------------------------------------------------------- Lambda calls
# Every AWS call a Lambda handler makes under test must be one the access model knows (tests/access/recorder.py).
RECORDING = os.environ.get("ACCESS_RECORD") == "1"  # `make access-record`: collect instead of check
_recorded: set[str] = set()


@pytest.fixture(autouse=True)
def _lambda_calls_are_recorded():
    from tests.access import recorder

    with recorder.Recorder().installed() as calls:
        yield
    if RECORDING:
        _recorded.update(calls.calls)
        return
    unknown = sorted(calls.calls - recorder.known())
    if unknown:
        pytest.fail(
            "AWS calls of Lambda handlers the access model does not know (run `make access-record` and commit "
            "tests/access/lambda_calls.json):\n" + "\n".join(unknown),
            pytrace=False,
        )


def pytest_sessionfinish(session, exitstatus):
    if RECORDING and exitstatus == 0:
        from tests.access import recorder

        recorder.save(_recorded)
