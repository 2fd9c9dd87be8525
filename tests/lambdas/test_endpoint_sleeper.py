"""The endpoint sleeper's handler (lambdas/endpoint_sleeper/) refuses what its schedules never send; the sleeping
itself runs under moto with the promotion workflow in tests/workflows/test_endpoint_sleep.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

HANDLER = Path(__file__).resolve().parents[2] / "lambdas" / "endpoint_sleeper" / "handler.py"
CONTEXT = SimpleNamespace(
    function_name="titanic-dev-endpoint-sleeper", memory_limit_in_mb=256, invoked_function_arn="a", aws_request_id="r"
)


def _handler():
    spec = importlib.util.spec_from_file_location("endpoint_sleeper_handler_unit", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


@pytest.mark.parametrize("event", [{}, {"action": "wake"}, {"action": "delete-everything"}])
def test_an_action_no_schedule_sends_is_refused_before_any_call(event):
    # "wake" included: waking is make wake's (a person's credentials), the function may not create endpoints.
    with pytest.raises(ValueError, match="action must be one of sleep, sleep-idle"):
        _handler()(event, CONTEXT)
