"""One CDK stack per phase. Stacks compose the reusable pieces in constructs/ and receive settings as typed arguments.

The reusable pieces live in the top-level folder `constructs/` (the project's chosen layout), a name the CDK's own
`constructs` package already owns. Adding that folder to the package's search path lets stacks write
`from constructs.secure_bucket import SecureBucket` beside `from constructs import Construct`.
"""

from pathlib import Path

import constructs as _constructs

_PROJECT_CONSTRUCTS = str(Path(__file__).resolve().parent.parent / "constructs")
if _PROJECT_CONSTRUCTS not in _constructs.__path__:
    _constructs.__path__.append(_PROJECT_CONSTRUCTS)
