"""Budget alerts reach the KMS-encrypted alerts topic: budgets.amazonaws.com may publish (topic policy) and use the key
(key policy), only for this account's budgets; without either statement of stacks/foundation.py they never arrive."""

from __future__ import annotations

from access_model.model import Model

from tests.access.conftest import mutated, request

ACCOUNT = "123456789012"
BUDGETS = "budgets.amazonaws.com"


def _budget_requests(results) -> list:
    return [result for result in results if result.request.principal == BUDGETS]


def test_every_budget_notification_may_publish_to_the_encrypted_topic_and_use_its_key(evaluated):
    for env, results in evaluated:
        found = _budget_requests(results)
        assert sorted(r.request.action for r in found) == ["kms:Decrypt", "kms:GenerateDataKey", "sns:Publish"], env
        assert all(r.verdict == "Allowed" for r in found), [(r.request.action, r.verdict) for r in found]
        budget = f"arn:aws:budgets::{ACCOUNT}:budget/titanic-{env.name}-monthly"
        assert all(dict(r.request.context)["aws:SourceArn"] == budget for r in found)
        assert {r.allowed_by[0].split(" ")[-1] for r in found} == {
            "(AllowBudgetsToPublish)",
            "(AllowBudgetsToUseTheKeyForAlerts)",
        }


def test_without_the_topic_or_the_key_statement_the_alerts_never_arrive(environments, evaluator):
    env = environments["dev"]
    topic = f"arn:aws:sns:eu-west-1:{ACCOUNT}:titanic-dev-alerts"
    key = Model(env, evaluator).policies.key_of(topic)
    context = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": f"arn:aws:budgets::{ACCOUNT}:budget/titanic-dev-monthly"}
    publish = request(BUDGETS, "sns:Publish", topic, **context)
    encrypt = request(BUDGETS, "kms:GenerateDataKey", key, **context)
    another_account = request(BUDGETS, "sns:Publish", topic, **{**context, "aws:SourceAccount": "999999999999"})

    def drop(sid: str):
        def change(templates):
            for resource in templates["titanic-dev-foundation"]["Resources"].values():
                properties = resource.get("Properties", {})
                document = properties.get("PolicyDocument") or properties.get("KeyPolicy")
                if document:
                    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != sid]

        return change

    as_built = Model(env, evaluator).judge([publish, encrypt, another_account])
    assert [r.verdict for r in as_built] == ["Allowed", "Allowed", "ImplicitlyDenied"]
    no_topic_statement = Model(mutated(env, drop("AllowBudgetsToPublish")), evaluator).judge([publish])
    no_key_statement = Model(mutated(env, drop("AllowBudgetsToUseTheKeyForAlerts")), evaluator).judge([encrypt])
    assert [no_topic_statement[0].verdict, no_key_statement[0].verdict] == ["ImplicitlyDenied", "ImplicitlyDenied"]
