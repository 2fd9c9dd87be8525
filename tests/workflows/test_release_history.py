"""Release history and rollback to a named version, end to end under moto: the workflow writes the records, the
operator commands (scripts/release.py, behind `make releases` / `make rollback`) read them and start rollbacks."""

from __future__ import annotations

import pytest
import release as release_cli

from tests.workflows.conftest import CONFIG, model_answer
from tests.workflows.test_promotion import release


def _released(world, *packages: str) -> None:
    for package in packages:
        world.endpoint_answers(model_answer(), model_answer())
        assert world.finish(release(world, package))["status"] == "SUCCEEDED"


def _rolled_back(world, message: str) -> dict:
    """Run the execution a rollback command started (its ARN is the message's last line)."""
    world.endpoint_answers(model_answer())
    execution = world.finish(message.rsplit("execution: ", 1)[1])
    assert execution["status"] == "SUCCEEDED", world.visited(execution["executionArn"])
    return execution


def test_a_second_rollback_never_redeploys_the_package_the_first_one_removed(world):
    v1, v2, v3 = (world.register_package() for _ in range(3))
    _released(world, v1, v2, v3)

    message = release_cli.rollback(CONFIG, "prod", actor="operator:alice", reason="v3 is wrong")
    assert "back from version 3" in message and "to version 2" in message
    _rolled_back(world, message)
    assert world.served("prod") == [v2, v3, v2, v1]

    # The default target would be v3, the package the first rollback removed: refused, the operator names one.
    with pytest.raises(release_cli.OperatorError, match="VERSION="):
        release_cli.rollback(CONFIG, "prod", actor="operator:alice")
    _rolled_back(world, release_cli.rollback(CONFIG, "prod", version=1, actor="operator:alice"))

    assert world.served("prod") == [v1, v2, v3, v2, v1]
    newest = world.records("prod")[0]
    assert (newest.mode, newest.package_version, newest.actor) == ("rollback", 1, "operator:alice")
    assert world.records("prod")[1].reason == "v3 is wrong"
    assert world.served("staging") == [v3, v2, v1]  # rollbacks go straight to prod


def test_rollback_refuses_a_version_prod_never_served_or_serves_now(world):
    v1, v2 = world.register_package(), world.register_package()
    _released(world, v1, v2)
    with pytest.raises(release_cli.OperatorError, match="version 7 never served prod"):
        release_cli.rollback(CONFIG, "prod", version=7)
    with pytest.raises(release_cli.OperatorError, match="already serves version 2"):
        release_cli.rollback(CONFIG, "prod", version=2)


def test_rollback_with_an_empty_history_refuses(world):
    with pytest.raises(release_cli.OperatorError, match="no release record yet"):
        release_cli.rollback(CONFIG, "prod")


def test_rollback_refuses_while_a_release_runs(world):
    v1, v2 = world.register_package(), world.register_package()
    _released(world, v1)
    world.endpoint_answers(model_answer())
    running = release(world, v2, approve_it=False)
    token = world.approval_token()

    with pytest.raises(release_cli.OperatorError, match="a release is running"):
        release_cli.rollback(CONFIG, "prod", version=1)
    world.sfn.send_task_failure(taskToken=token, error="ReleaseRejected", cause="test over")
    world.finish(running)


def test_the_releases_view_lists_each_stage_newest_first(world):
    v1, v2 = world.register_package(), world.register_package()
    _released(world, v1, v2)
    table = release_cli.releases_table({stage: world.records(stage) for stage in ("prod", "staging")})
    prod_block = table.split("staging:")[0].splitlines()
    assert prod_block[0] == "prod: 2 release(s)"
    assert prod_block[1].split() == ["released", "at", "version", "mode", "actor", "endpoint", "config", "reason"]
    assert [line.split()[1:4] for line in prod_block[2:4]] == [["2", "release", "tests"], ["1", "release", "tests"]]
    assert "staging: 2 release(s)" in table
