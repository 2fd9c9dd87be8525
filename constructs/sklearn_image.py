"""Phase 03 (and 04): the project's one SageMaker scikit-learn container: processing, training and serving use it.

A model pickled by one scikit-learn version is only guaranteed to load in the same version, so there is exactly one
version constant. 1.2-1 = Python 3.9 + scikit-learn 1.2.1 (requirements.txt pins the same scikit-learn locally).
"""

from __future__ import annotations

from constructs import synth_cache

SKLEARN_VERSION = "1.2-1"
IMAGE_SOURCE = "constructs/sklearn_image.py"  # the code that looks the URI up: part of the cache key


def sklearn_image_uri(region: str) -> str:
    """The image URI from the SageMaker SDK's bundled table: no network call; cached by region, version and SDK."""
    key = synth_cache.content_key("sklearn-image", [region, SKLEARN_VERSION], synth_cache.source_files([IMAGE_SOURCE]))
    return synth_cache.cached("sklearn-image", key, lambda: _retrieve_image_uri(region))


def _retrieve_image_uri(region: str) -> str:
    from sagemaker import image_uris  # imported here: the SDK takes seconds to import and only this needs it

    return image_uris.retrieve(
        "sklearn", region, version=SKLEARN_VERSION, py_version="py3", instance_type="ml.m5.large"
    )


def ecr_repository_arn(image_uri: str, partition: str = "aws") -> str:
    """arn:<partition>:ecr:<region>:<registry account>:repository/<name> of an image URI, for ECR pull permissions."""
    registry, path = image_uri.split("/", 1)
    account, _, _, region, *_ = registry.split(".")
    return f"arn:{partition}:ecr:{region}:{account}:repository/{path.split(':', 1)[0]}"
