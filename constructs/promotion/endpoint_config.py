"""Phase 04: what one release's endpoint config of a stage holds (CreateEndpointConfig's parameters).

The model comes from the release's names ($.names.model); capture writes both directions of the sampled requests to
the data-capture prefix, encrypted with the environment key, for the drift check (docs/06, "Model monitoring"):
JSON and CSV bodies are stored as text (SageMaker stores other content types base64-encoded).
"""

from __future__ import annotations

from config.names import VARIANT_NAME
from config.sections import EndpointStageSettings
from constructs.promotion.targets import PromotionTargets
from constructs.promotion.tasks import sdk_tags


def endpoint_config_parameters(
    stage: str, fleet: EndpointStageSettings, targets: PromotionTargets, capture_percent: int
) -> dict:
    return {
        "EndpointConfigName.$": f"$.names.{stage}_config",
        "ProductionVariants": [
            {
                "VariantName": VARIANT_NAME,
                "ModelName.$": "$.names.model",
                "InstanceType": fleet.instance_type,
                "InitialInstanceCount": fleet.instance_count,
            }
        ],
        "KmsKeyId": targets.key.key_arn,
        "DataCaptureConfig": {
            "EnableCapture": capture_percent > 0,
            "InitialSamplingPercentage": capture_percent,
            "DestinationS3Uri": targets.data_capture_uri,
            "KmsKeyId": targets.key.key_arn,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"], "CsvContentTypes": ["text/csv"]},
        },
        "Tags": sdk_tags(targets.tags, stage=stage),
    }
