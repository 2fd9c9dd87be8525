"""The access model: every AWS call the system makes, evaluated offline against its IAM, key and resource policies.

assembly.py   the cloud assembly of one environment, references resolved (fixed fake account)
policies.py   identity policies per role, resource policies (key, bucket, topic, queue, Lambda, trust), encryption
asl.py        calls of the state machines' Task states, parameters made concrete
pipeline.py   calls of the SageMaker pipelines' steps, and the model packages they register
lambdas.py    calls of the Lambda handlers, as recorded under test (tests/access/lambda_calls.json)
events.py     sample inputs of what EventBridge rules and schedules start
rules.py      the reviewed table of extra permissions (extra_permissions.toml)
links.py      lookups between calls and templates used by the rules
requests.py   calls -> IAM requests, resources from IAM's ARN formats
evaluator.*   the Node process running @cloud-copilot/iam-simulate
model.py      all of it for one environment: requests and verdicts
Entry point: scripts/access_report.py (make access-report, make access-check). Never imports stacks/ or constructs/.
"""
