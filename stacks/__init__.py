"""One CDK stack per phase. Stacks compose the reusable pieces in constructs/ and receive settings as typed arguments.

The reusable pieces live in the top-level folder `constructs/` (the project's chosen layout), a name the CDK's own
`constructs` package already owns. Adding that folder to the package's search path lets stacks write
`from constructs.secure_bucket import SecureBucket` beside `from constructs import Construct`.
"""

import logging
import os
from pathlib import Path

import constructs as _constructs

_PROJECT_CONSTRUCTS = str(Path(__file__).resolve().parent.parent / "constructs")
if _PROJECT_CONSTRUCTS not in _constructs.__path__:
    _constructs.__path__.append(_PROJECT_CONSTRUCTS)

# The SageMaker SDK (stacks/training_pipeline_definition.py) creates a boto3 session when imported; with no region
# configured botocore would probe the EC2 instance-metadata endpoint. Synthesis never needs it, so it stays off.
# The SDK's v2-to-v3 migration notice is silenced: the v2 workflow API is the deliberate choice (docs/03).
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
logging.getLogger("sagemaker.config").setLevel(logging.WARNING)  # "not applying SDK defaults from ..." on import
