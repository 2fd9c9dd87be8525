"""The promotion's champion check, executed under moto: a release may not score worse than the package prod serves
by more than ml.champion_tolerance, unless an operator forces it (`make release ... FORCE=yes REASON=...`)."""

from __future__ import annotations

import release as release_cli

from tests.workflows.conftest import CONFIG, model_answer
from tests.workflows.test_promotion import approve, failure_alerts, release

TOLERANCE = CONFIG.ml.champion_tolerance
CHAMPION_SCORE = 0.83


def _served(world, score: float) -> str:
    """A package released to prod with quality `score` (the champion of what follows)."""
    package = world.register_package(score=score)
    world.endpoint_answers(model_answer(), model_answer())
    assert world.finish(release(world, package))["status"] == "SUCCEEDED"
    return package


def _models(world) -> list[str]:
    return sorted(model["ModelName"] for model in world.sm.list_models()["Models"])


def test_a_regression_beyond_the_tolerance_is_refused_and_nothing_is_deployed(world):
    champion = _served(world, CHAMPION_SCORE)
    configs, models = world.endpoint_config("prod"), _models(world)
    candidate = world.register_package(score=round(CHAMPION_SCORE - TOLERANCE - 0.005, 6))

    execution = world.finish(world.start("promotion", {"model_package_arn": candidate, "mode": "release"}))

    assert (execution["status"], execution["error"]) == ("FAILED", "ChampionRegression")
    assert "worse by more than the tolerance" in execution["cause"] and "FORCE=yes" in execution["cause"]
    assert "DescribeChampion" in world.visited(execution["executionArn"])
    assert "CreateModel" not in world.visited(execution["executionArn"])
    assert (world.endpoint_config("prod"), _models(world)) == (configs, models)
    assert world.served("prod") == [champion] and world.served("staging") == [champion]
    (alert,) = failure_alerts(world)
    assert alert["error"] == "ChampionRegression"


def test_a_candidate_within_the_tolerance_is_released(world):
    _served(world, CHAMPION_SCORE)
    candidate = world.register_package(score=round(CHAMPION_SCORE - TOLERANCE, 6))  # exactly at the limit
    world.endpoint_answers(model_answer(), model_answer())

    execution = world.finish(release(world, candidate))

    assert execution["status"] == "SUCCEEDED", world.visited(execution["executionArn"])
    assert world.served("prod")[0] == candidate and world.records("prod")[0].mode == "release"


def test_a_forced_release_skips_the_check_and_is_recorded_with_its_reason(world):
    _served(world, CHAMPION_SCORE)
    candidate = world.register_package(score=0.5)
    world.endpoint_answers(model_answer(), model_answer())

    message = release_cli.release(
        CONFIG, candidate, force=True, actor="operator:alice", reason="new features; accuracy drop accepted"
    )
    assert "forced" in message
    approve(world, world.approval_token())
    execution = world.finish(message.rsplit("execution: ", 1)[1])

    assert execution["status"] == "SUCCEEDED", world.visited(execution["executionArn"])
    assert "LatestProdRelease" not in world.visited(execution["executionArn"])
    newest = world.records("prod")[0]
    assert (newest.model_package_arn, newest.mode, newest.actor, newest.reason) == (
        candidate,
        "force",
        "operator:alice",
        "new features; accuracy drop accepted",
    )
    assert world.records("staging")[0].mode == "force"


def test_an_unforced_release_command_applies_the_check(world):
    _served(world, CHAMPION_SCORE)
    candidate = world.register_package(score=0.5)
    message = release_cli.release(CONFIG, "2", actor="operator:bob")  # by version number
    execution = world.finish(message.rsplit("execution: ", 1)[1])
    assert (execution["status"], execution["error"]) == ("FAILED", "ChampionRegression")
    assert world.served("prod") != [candidate]


def test_without_a_prod_release_there_is_nothing_to_compare_with(world):
    package = world.register_package(score=0.5)
    world.endpoint_answers(model_answer(), model_answer())

    execution = world.finish(release(world, package))

    assert execution["status"] == "SUCCEEDED", world.visited(execution["executionArn"])
    visited = world.visited(execution["executionArn"])
    assert "HasChampion" in visited and "DescribeChampion" not in visited


def test_a_forced_release_without_a_reason_is_refused(world):
    package = world.register_package()
    execution = world.finish(world.start("promotion", {"model_package_arn": package, "mode": "force"}))
    assert (execution["status"], execution["error"]) == ("FAILED", "PackageRefused")
    assert '"force" needs a reason' in execution["cause"]


def test_a_report_outside_the_pipeline_layout_fails_the_check(world):
    _served(world, CHAMPION_SCORE)
    candidate = world.register_package(report_key="elsewhere/run-9/evaluation/evaluation.json")
    execution = world.finish(world.start("promotion", {"model_package_arn": candidate, "mode": "release"}))
    assert (execution["status"], execution["error"]) == ("FAILED", "ChampionCheckFailed")
    assert "must be the evaluation.json files the pipeline writes" in execution["cause"]
    assert "ReadCandidateReport" not in world.visited(execution["executionArn"])
