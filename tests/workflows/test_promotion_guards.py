"""The promotion workflow's guards, executed under moto: DescribeEndpoint failures that are not "no endpoint yet",
duplicate and overlapping releases, and AWS's procedure for updating an autoscaled prod endpoint."""

from __future__ import annotations

import boto3
import pytest
from moto.sagemaker.models import sagemaker_backends

from tests.moto_patches import ACCOUNT
from tests.workflows.conftest import CONFIG, NAMES, REGION, model_answer
from tests.workflows.test_promotion import failure_alerts, release

STAGING, PROD = NAMES.endpoint("staging"), NAMES.endpoint("prod")
VARIANT = f"endpoint/{PROD}/variant/AllTraffic"


def released(world, package: str) -> None:
    world.endpoint_answers(model_answer(), model_answer())
    execution = world.finish(release(world, package))
    assert execution["status"] == "SUCCEEDED", world.visited(execution["executionArn"])


# ------------------------------------------------------------------------------------------ DescribeEndpoint
@pytest.mark.parametrize("error", ["AccessDeniedException", "ThrottlingException"])
def test_a_describe_failure_other_than_a_missing_endpoint_alerts_and_changes_nothing(world, aws, error):
    first, second = world.register_package(), world.register_package()
    released(world, first)
    staging_before = world.endpoint_config("staging")

    aws.describe_failures.errors[STAGING] = error
    execution = world.finish(world.start("promotion", {"model_package_arn": second, "mode": "release"}))
    aws.describe_failures.errors.clear()

    assert execution["status"] == "FAILED"
    assert execution["error"] == "StagingDeploymentFailed"
    visited = world.visited(execution["executionArn"])
    assert "StagingNotDescribed" in visited
    assert not {"NoStagingEndpointYet", "CreateStagingEndpoint", "UpdateStagingEndpoint"} & set(visited)
    assert world.endpoint_config("staging") == staging_before
    (alert,) = failure_alerts(world)
    assert error in alert["cause"] and "nothing was created or changed" in alert["cause"]


def test_only_could_not_find_endpoint_means_the_first_deployment(world):
    package = world.register_package()
    released(world, package)
    (execution,) = world.sfn.list_executions(stateMachineArn=world.machines["promotion"])["executions"]
    visited = world.visited(execution["executionArn"])
    assert {"NoStagingEndpointYet", "CreateStagingEndpoint", "NoProdEndpointYet", "CreateProdEndpoint"} <= set(visited)


# ------------------------------------------------------------------------------------------ overlap
def test_a_duplicate_approved_event_does_not_start_a_second_release(world):
    package = world.register_package()
    world.endpoint_answers(model_answer(), model_answer())
    first = release(world, package, approve_it=False)
    token = world.approval_token()  # the first release waits at the approval gate

    duplicate = world.finish(world.start("promotion", {"model_package_arn": package, "mode": "release"}))

    assert duplicate["status"] == "SUCCEEDED"
    assert world.visited(duplicate["executionArn"])[-1] == "SkippedOverlappingRelease"
    assert len(world.sm.list_models()["Models"]) == 1  # only the first release created a model
    assert failure_alerts(world) == []
    world.sfn.send_task_success(taskToken=token, output="{}")
    assert world.finish(first)["status"] == "SUCCEEDED"
    assert world.served("prod") == [package]


def test_a_rollback_requested_while_a_release_runs_is_refused_with_an_alert(world):
    first, second = world.register_package(), world.register_package()
    released(world, first)
    world.endpoint_answers(model_answer())
    running = release(world, second, approve_it=False)
    token = world.approval_token()

    refused = world.finish(world.start("promotion", {"model_package_arn": first, "mode": "rollback"}))

    assert refused["status"] == "FAILED"
    assert refused["error"] == "ReleaseOverlap"
    (alert,) = failure_alerts(world)
    assert "another release of this environment is running" in alert["cause"]
    world.sfn.send_task_failure(taskToken=token, error="ReleaseRejected", cause="test over")
    world.finish(running)
    assert world.served("prod") == [first]


# ------------------------------------------------------------------------------------------ autoscaling
def _scaling():
    client = boto3.client("application-autoscaling", region_name=REGION)
    targets = client.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    policies = client.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    return [t["ResourceId"] for t in targets], [p["PolicyName"] for p in policies]


def _prod_variant(world) -> dict:
    return world.sm.describe_endpoint(EndpointName=PROD)["ProductionVariants"][0]


def test_a_model_update_keeps_the_capacity_autoscaling_set_and_keeps_scaling(world, aws):
    first, second = world.register_package(), world.register_package()
    released(world, first)
    world.sm.update_endpoint_weights_and_capacities(  # autoscaling scaled prod out since
        EndpointName=PROD, DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}]
    )

    world.endpoint_answers(model_answer(), model_answer())
    execution = world.finish(release(world, second))

    assert execution["status"] == "SUCCEEDED", world.visited(execution["executionArn"])
    assert _prod_variant(world)["DesiredInstanceCount"] == 3  # not reset to the config's initial count
    (update,) = [call for call in aws.updates.calls if call["EndpointName"] == PROD]
    assert update["RetainAllVariantProperties"] is True
    visited = world.visited(execution["executionArn"])
    assert "DeregisterProdScaling" not in visited  # a model change is allowed while scaled
    assert _scaling() == ([VARIANT], [f"{PROD}-invocations"])


def test_an_instance_type_change_deregisters_scaling_first_and_registers_it_again(world, aws):
    first, second = world.register_package(), world.register_package()
    released(world, first)
    # Prod runs another instance type than the config now names (as after a change of serving.prod.instance_type).
    backend = sagemaker_backends[ACCOUNT][REGION]
    current = backend.endpoint_configs[world.endpoint_config("prod")]
    (variant,) = current.production_variants
    world.sm.create_endpoint_config(
        EndpointConfigName=f"{NAMES.prefix}-prod-older-type",
        ProductionVariants=[{**variant, "InstanceType": "ml.c5.xlarge"}],
    )
    backend.endpoints[PROD].endpoint_config_name = f"{NAMES.prefix}-prod-older-type"

    world.endpoint_answers(model_answer(), model_answer())
    execution = world.finish(release(world, second))

    assert execution["status"] == "SUCCEEDED", world.visited(execution["executionArn"])
    visited = world.visited(execution["executionArn"])
    order = [visited.index(state) for state in ("DeleteProdScalingPolicy", "DeregisterProdScaling")]
    assert order == sorted(order) and order[-1] < visited.index("UpdateProdEndpoint")
    assert visited.index("RegisterProdScaling") > visited.index("RecordProdRelease")
    assert backend.endpoint_configs[world.endpoint_config("prod")].production_variants[0]["InstanceType"] == (
        CONFIG.serving.prod.instance_type
    )
    assert _scaling() == ([VARIANT], [f"{PROD}-invocations"])


def test_sagemaker_refuses_an_instance_type_change_while_the_variant_is_scaled(world, aws):
    """The emulation the test above relies on: what AWS documents, an update that changes the instance type of a
    scalable target fails."""
    package = world.register_package()
    released(world, package)
    (variant,) = sagemaker_backends[ACCOUNT][REGION].endpoint_configs[world.endpoint_config("prod")].production_variants
    world.sm.create_endpoint_config(
        EndpointConfigName="other-type", ProductionVariants=[{**variant, "InstanceType": "ml.c5.xlarge"}]
    )
    with pytest.raises(world.sm.exceptions.ClientError, match="scalable target"):
        world.sm.update_endpoint(EndpointName=PROD, EndpointConfigName="other-type")
