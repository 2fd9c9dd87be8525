"""The access model over the session synthesis: one evaluator process, each environment evaluated once."""

from __future__ import annotations

import copy

import pytest
from access_model.assembly import Environment, load_environments
from access_model.evaluator import Evaluator
from access_model.model import Model, Result
from access_model.requests import Request, freeze


@pytest.fixture(scope="session")
def evaluator():
    with Evaluator() as running:
        yield running


@pytest.fixture(scope="session")
def environments(synthesis) -> dict[str, Environment]:
    return {env.name: env for env in load_environments(synthesis.outdir)}


@pytest.fixture(scope="session")
def evaluated(environments, evaluator) -> list[tuple[Environment, list[Result]]]:
    return [(env, Model(env, evaluator).evaluate()) for env in environments.values()]


@pytest.fixture
def prod(environments, evaluator) -> Model:
    return Model(environments["prod"], evaluator)


def mutated(env: Environment, change) -> Environment:
    """A copy of the environment whose templates `change(templates)` edited in place."""
    templates = copy.deepcopy(env.templates)
    change(templates)
    return Environment(env.name, env.region, env.account, templates, env.outdir)


def request(principal: str, action: str, resource: str, **context) -> Request:
    return Request(principal, action, resource, freeze(context), "test")
