# titanic-sagemaker: the one entry point. Every target installs what it needs on first use.
# Targets that reach AWS (diff, deploy) say so; everything else runs offline with no credentials.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
ENV ?= dev
# cdk deploy --require-approval: CI passes `never`, its gate being the GitHub environment's required reviewer.
APPROVAL ?= broadening

# Offline and quiet by default (see ../shared/toolchain.md): no telemetry, no instance-metadata probing,
# no jsii end-of-life banner, a fixed region for SDK clients that need one.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_EC2_METADATA_DISABLED := true
export AWS_DEFAULT_REGION ?= eu-west-1
# Bytecode is cached (__pycache__/, git-ignored; Lambda assets and the code bundle take .py files only): without it
# every synthesis and each pytest worker compile the project and the tests again (collection 25 s instead of 17 s).
unexport PYTHONDONTWRITEBYTECODE

# Every environment, whatever ENV says (ENV selects one environment for diff/deploy only). -O, as in cdk.json: jsii's
# bindings skip their Python-side argument checks (~1 s of ~10); the jsii kernel still rejects an argument of the
# wrong type, and the test suite builds the app with the checks on (docs/00-foundations.md).
SYNTH = env -u ENV CDK_OUTDIR=cdk.out $(PY) -O app.py

VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# Python 3.9 with the SageMaker scikit-learn 1.2-1 container's libraries and serving stack (scripts/container_venv.sh).
CONTAINER_STAMP := .venv-container/.installed

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# ---------------------------------------------------------------------------------------------- environment
# uv installs every Python environment from the same pinned requirement files pip would read, several times faster
# (.venv with empty caches: 1 min 44 s with pip, 15 s with uv; docs/00-foundations.md). It lives in .venv-uv, made
# once with pip. Like pip --no-compile, uv compiles no bytecode at install: Python compiles what it imports, once.
UV_VENV := .venv-uv
UV := $(UV_VENV)/bin/uv
UV_STAMP := $(UV_VENV)/.installed
# $(call uv_install,VENV,REQUIREMENTS): the pinned REQUIREMENTS into VENV, created with $(PYTHON) when missing.
uv_install = test -x $(1)/bin/python || $(PYTHON) -m venv $(1); $(UV) pip install --quiet --python $(1)/bin/python -r $(2)

$(UV_STAMP): requirements-uv.txt
	@echo ">> creating $(UV_VENV) with the pinned uv (it installs the other environments)"
	@test -x $(UV_VENV)/bin/python || $(PYTHON) -m venv $(UV_VENV)
	@$(UV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-uv.txt
	@touch $@

$(VENV_STAMP): requirements.txt requirements-dev.txt | $(UV_STAMP)
	@echo ">> creating $(VENV) and installing pinned dependencies"
	@$(call uv_install,$(VENV),requirements-dev.txt)
	@touch $@

$(CONTAINER_STAMP): scripts/container-requirements.txt scripts/container_venv.sh | $(UV_STAMP)
	@UV=$(UV) scripts/container_venv.sh

$(NODE_STAMP): package.json package-lock.json
	@echo ">> installing the pinned AWS CDK CLI and IAM policy evaluator (npm ci)"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: venv
venv: $(VENV_STAMP) ## create .venv with the pinned Python dependencies

# On a fresh clone `make test` needs four environments that do not depend on each other: built side by side (uv or npm
# each, after .venv-uv; none waits for another), each one's output printed whole.
.PHONY: environments
environments: ## create every environment make test uses, side by side: .venv, node_modules, .venv-container, .venv-checkov
	@$(MAKE) --no-print-directory --silent -j4 --output-sync=target \
	  $(VENV_STAMP) $(NODE_STAMP) $(CONTAINER_STAMP) $(CHECKOV_STAMP)

.PHONY: container-venv
container-venv: $(CONTAINER_STAMP) ## create .venv-container: Python 3.9 + the SageMaker sklearn 1.2-1 container's libraries (~20 s once)

# ---------------------------------------------------------------------------------------------- the two commands
.PHONY: run
run: $(VENV_STAMP) ## the main job without AWS: the local ML flow (see ml-flow) and the synthesis of every environment
	@# The synthesis needs nothing from the ML flow, so it runs beside it (two cores) and its summary prints last.
	@rm -rf cdk.out && mkdir -p .local
	@$(SYNTH) > .local/synth.log 2>&1 & synth=$$!; \
	  $(PY) -m ml.local.flow --env $(ENV) && flow=0 || flow=$$?; \
	  echo ">> synthesizing every environment (cdk-nag on) ..."; \
	  wait $$synth || { cat .local/synth.log; echo "synthesis failed" >&2; exit 1; }; \
	  [ $$flow -eq 0 ] || exit $$flow
	@$(PY) scripts/synth_summary.py cdk.out

.PHONY: test
test: environments lint unit template-checks ## everything: lint, the whole pytest suite, cfn-lint and checkov on every template
# One synthesis per command: `synth` runs once per make invocation and unit, cfn-lint and checkov all read its cdk.out
# (pytest through TEST_CLOUD_ASSEMBLY; tests/infra/test_offline.py still synthesizes afresh and compares the bytes).

.PHONY: lint
lint: $(VENV_STAMP) ## ruff lint and format check; GitHub workflows against their schema and zizmor (offline)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	@$(VENV)/bin/zizmor --offline --quiet .github/workflows/

.PHONY: unit
# pytest-xdist spreads the suite over every core (TEST_WORKERS=0: one process, e.g. to debug with pdb), with its
# default scheduling: it beat `--dist loadfile` by 5% (docs/00-foundations.md, "Snapshots").
TEST_WORKERS ?= auto

unit: synth $(NODE_STAMP) $(CONTAINER_STAMP) ## the pytest suite on the synthesized cdk.out, over every core (Node: the IAM evaluator, the CDK CLI; .venv-container: the serving container's stack)
	@TEST_CLOUD_ASSEMBLY=cdk.out $(PY) -m pytest --numprocesses $(TEST_WORKERS)

.PHONY: cfn-lint
CFN_LINT_RUN = $(VENV)/bin/cfn-lint --config-file .cfnlintrc.yaml -- cdk.out/*.template.json && \
  echo "cfn-lint: $$(ls cdk.out/*.template.json | wc -l) templates, 0 errors"

cfn-lint: synth ## cfn-lint on every synthesized template (errors fail; settings and the one ignored check: .cfnlintrc.yaml)
	@$(CFN_LINT_RUN)

AUDIT_VENV := .venv-audit
AUDIT_STAMP := $(AUDIT_VENV)/.installed

$(AUDIT_STAMP): requirements-audit.txt | $(UV_STAMP)
	@echo ">> creating $(AUDIT_VENV) with the pinned pip-audit"
	@$(call uv_install,$(AUDIT_VENV),requirements-audit.txt)
	@touch $@

.PHONY: audit
audit: $(VENV_STAMP) $(NODE_STAMP) $(AUDIT_STAMP) ## known vulnerabilities: pip-audit --strict (venv, training bundle) and npm audit (needs their services)
	@# Both audits always run; either failing fails the target. Offline neither service answers: it fails, saying so.
	@rc=0; \
	  $(PY) scripts/dependency_audit.py $(AUDIT_VENV)/bin/pip-audit \
	    --path "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
	    --requirement ml/requirements-training.txt || rc=$$?; \
	  echo ">> npm audit (the pinned AWS CDK CLI)"; \
	  npm audit --no-fund || rc=$$((rc > 0 ? rc : 1)); \
	  exit $$rc

# ---------------------------------------------------------------------------------------------- infrastructure
.PHONY: synth
synth: $(VENV_STAMP) ## synthesize every environment into cdk.out/ (offline; fails on any nag finding or missing tag)
	@rm -rf cdk.out
	@$(SYNTH)

.PHONY: nag-report
nag-report: synth ## list every cdk-nag acknowledgment with its reason (writes docs/nag-acknowledgments.md)
	@$(PY) scripts/nag_report.py cdk.out docs/nag-acknowledgments.md

.PHONY: access-report
access-report: synth $(NODE_STAMP) ## evaluate every AWS call the system makes against its IAM, key and resource policies (writes docs/access-report.md)
	@$(PY) scripts/access_report.py report cdk.out docs/access-report.md

.PHONY: access-check
access-check: synth $(NODE_STAMP) ## the same evaluation; fails listing every denied request
	@$(PY) scripts/access_report.py check cdk.out

.PHONY: access-record
access-record: $(VENV_STAMP) ## re-record the AWS calls the Lambda handlers make under test (tests/access/lambda_calls.json)
	@ACCESS_RECORD=1 $(PY) -m pytest tests/lambdas tests/workflows -q

CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP): requirements-checkov.txt | $(UV_STAMP)
	@echo ">> creating $(CHECKOV_VENV) with the pinned checkov (its own venv: it pins boto3 1.35)"
	@$(call uv_install,$(CHECKOV_VENV),requirements-checkov.txt)
	@touch $@

.PHONY: checkov
CHECKOV_RUN = $(PY) scripts/checkov_scan.py $(CHECKOV_VENV)/bin/checkov cdk.out docs/checkov-report.md

checkov: synth $(CHECKOV_STAMP) ## IaC security scan of every template: 0 failed, skips reasoned on the resource (docs/checkov-report.md)
	@$(CHECKOV_RUN)

.PHONY: template-checks
template-checks: synth $(CHECKOV_STAMP) ## cfn-lint and checkov side by side (one process each, ~12 s each), each one's output whole
	@mkdir -p .local; \
	  ( $(CFN_LINT_RUN) ) > .local/cfn-lint.log 2>&1 & cfn=$$!; \
	  ( $(CHECKOV_RUN) ) > .local/checkov.log 2>&1 && checkov=0 || checkov=$$?; \
	  wait $$cfn && cfn=0 || cfn=$$?; \
	  cat .local/cfn-lint.log .local/checkov.log; \
	  [ $$cfn -eq 0 ] && [ $$checkov -eq 0 ]

.PHONY: snapshots
snapshots: $(VENV_STAMP) ## update the template snapshots after an intended infrastructure change
	@$(PY) -m pytest tests/infra/test_snapshots.py --snapshot-update -q

.PHONY: template-diff
template-diff: $(VENV_STAMP) $(NODE_STAMP) ## cdk.out against another synthesized assembly, per stack, as Markdown (BASE=dir; offline)
	@test -n "$(BASE)" || { echo "usage: make template-diff BASE=path/to/base/cdk.out (after make synth)" >&2; exit 2; }
	@$(PY) scripts/template_diff.py $(BASE) cdk.out --cdk $(CDK)

# cdk diff --method: auto (a change set, through the deploy role) or template (the read-only lookup role; CI uses it).
DIFF_METHOD ?= auto

.PHONY: diff
diff: $(VENV_STAMP) $(NODE_STAMP) ## compare ENV's stacks with what is deployed (needs AWS credentials; DIFF_METHOD=template for read-only)
	@$(CDK) diff --no-notices --method $(DIFF_METHOD) -c env=$(ENV) 'titanic-$(ENV)-*'

.PHONY: deploy
deploy: cfn-lint $(NODE_STAMP) ## deploy ENV's stacks after cfn-lint passed on every template (needs AWS credentials and a bootstrapped account)
	@$(CDK) deploy --no-notices -c env=$(ENV) --require-approval $(APPROVAL) 'titanic-$(ENV)-*'

# ---------------------------------------------------------------------------------------------- data (phase 01)
.PHONY: validate-data
validate-data: $(VENV_STAMP) ## validate a local CSV like the data Lambda does: make validate-data FILE=path
	@test -n "$(FILE)" || { echo "usage: make validate-data FILE=path/to/file.csv" >&2; exit 2; }
	@$(PY) -m scripts.validate_data "$(FILE)"

.PHONY: bench-validate-data
bench-validate-data: $(VENV_STAMP) ## time the schema validation of ROWS synthetic rows (default 100000)
	@$(PY) -m scripts.bench_validate_data $(or $(ROWS),100000) $(or $(REPS),3)

# ---------------------------------------------------------------------------------------------- training pipeline (phase 03)
.PHONY: pipeline-start
pipeline-start: $(VENV_STAMP) ## start ENV's SageMaker training pipeline, follow each step to the end (EVIDENCE=file.json; needs AWS)
	@$(PY) scripts/pipeline_start.py --env $(ENV) $(foreach p,$(PARAMS),--parameter $(p)) $(if $(EVIDENCE),--evidence $(EVIDENCE))

.PHONY: smoke
smoke: $(VENV_STAMP) ## smoke-test ENV's endpoints in service with the smoke Lambda's request and ml/smoke.py rules (EVIDENCE=file.json; needs AWS)
	@$(PY) scripts/endpoint_smoke.py --env $(ENV) $(if $(EVIDENCE),--evidence $(EVIDENCE))

.PHONY: bundle-smoke
bundle-smoke: $(VENV_STAMP) ## run the pipeline's ml/ scripts from the code bundle as the containers do (offline; ML_ROOT=.)
	@$(PY) scripts/bundle_smoke.py --ml-root $(or $(ML_ROOT),.)

.PHONY: pipeline-graph
pipeline-graph: synth ## draw the training pipeline graph from ENV's synthesized definition (docs/images/03-pipeline-graph.png)
	@$(PY) scripts/pipeline_graph.py cdk.out/titanic-$(ENV)-training.template.json docs/images/03-pipeline-graph.png

# ---------------------------------------------------------------------------------------------- release operations
# Phases 04/06: answer the promotion workflow's approval gate, roll prod back, clean up runtime resources.
# These reach AWS (credentials for ENV's account); see docs/04-serving-ecs-sagemaker.md.
STAGE ?= prod
TARGET ?= all

.PHONY: release
release: $(VENV_STAMP) ## release an Approved package to staging, approval, prod; FORCE=yes skips the champion check (ENV=… PACKAGE=arn|version [FORCE=yes REASON=…]; needs AWS)
	@test -n "$(PACKAGE)" || { echo "PACKAGE=<model package ARN or version> is required"; exit 2; }
	@$(PY) scripts/release.py release --env $(ENV) --package '$(PACKAGE)' $(if $(filter yes,$(FORCE)),--force,) $(if $(REASON),--reason '$(REASON)')

.PHONY: approve-release
approve-release: $(VENV_STAMP) ## let the release waiting for approval go to prod (ENV=… TOKEN=…; needs AWS)
	@test -n "$(TOKEN)" || { echo "TOKEN=<task_token from the approval message> is required"; exit 2; }
	@$(PY) scripts/release.py approve --env $(ENV) --token '$(TOKEN)'

.PHONY: reject-release
reject-release: $(VENV_STAMP) ## stop the release waiting for approval (ENV=… TOKEN=… [REASON=…]; needs AWS)
	@test -n "$(TOKEN)" || { echo "TOKEN=<task_token from the approval message> is required"; exit 2; }
	@$(PY) scripts/release.py reject --env $(ENV) --token '$(TOKEN)' --reason '$(or $(REASON),rejected by the approver)'

.PHONY: rollback
rollback: $(VENV_STAMP) ## redeploy prod's release before the current one, or VERSION=n (ENV=… [VERSION=n] [REASON=…]; needs AWS)
	@$(PY) scripts/release.py rollback --env $(ENV) --stage $(STAGE) $(if $(VERSION),--version $(VERSION)) $(if $(REASON),--reason '$(REASON)')

.PHONY: releases
releases: $(VENV_STAMP) ## the release history of ENV's stages, newest first (ENV=… [LIMIT=n]; needs AWS)
	@$(PY) scripts/release.py releases --env $(ENV) --limit $(or $(LIMIT),20)

.PHONY: cleanup
cleanup: $(VENV_STAMP) ## list (CONFIRM=yes: delete) endpoints/configs/models the workflow made (ENV=… TARGET=all|endpoints|models|configs; needs AWS)
	@$(PY) scripts/release.py cleanup --env $(ENV) --target $(TARGET) $(if $(filter yes,$(CONFIRM)),--confirm,)

.PHONY: registry-audit
registry-audit: $(VENV_STAMP) ## who changed ENV's model registry and releases, and when (SINCE=7d|12h|2026-11-01, default 30d; needs AWS)
	@$(PY) scripts/registry_audit.py --env $(ENV) $(if $(SINCE),--since '$(SINCE)')

# ---------------------------------------------------------------------------------------------- observability and cost
# Phases 06/07: docs/06-observability-operations.md (alarms, dashboard, runbooks) and docs/07-cost-governance.md.
.PHONY: cost
cost: synth ## monthly cost estimate of ENV from its synthesized templates and config: table, always-on, one pipeline run, idle (offline)
	@$(PY) scripts/cost.py --env $(ENV) cdk.out

.PHONY: sleep
sleep: $(VENV_STAMP) ## put ENV's stage endpoints to sleep now: endpoint deleted, config, model and release record kept (not while a promotion runs; needs AWS)
	@$(PY) scripts/endpoint_sleep.py sleep --env $(ENV)

.PHONY: wake
wake: $(VENV_STAMP) ## wake ENV's sleeping stage endpoints on their newest release record's endpoint config (needs AWS)
	@$(PY) scripts/endpoint_sleep.py wake --env $(ENV)

.PHONY: orphans
orphans: $(VENV_STAMP) ## what costs money in ENV and no release record references, now (the weekly report; read-only; needs AWS)
	@$(PY) scripts/orphans.py --env $(ENV)

.PHONY: release-check
release-check: $(VENV_STAMP) ## ENV's four release questions: pipeline ran, endpoints pass smoke, alarms OK, spend within budget (exit 1 on a fail; needs AWS)
	@$(PY) scripts/release_check.py --env $(ENV)

# ---------------------------------------------------------------------------------------------- benchmarks
.PHONY: bench
bench: bench-synth bench-ml bench-validate-data bench-drift bench-drift-check ## every benchmark

.PHONY: bench-synth
bench-synth: $(VENV_STAMP) ## synth time of the full app against an empty CDK app (medians, ratio)
	@$(PY) scripts/bench_synth.py $(or $(REPS),5)

# ---------------------------------------------------------------------------------------------- local ML mode
# The ml/ scripts on this machine, a local MLflow registry (.local/, git-ignored; MLFLOW_TRACKING_URI overrides)
# and a loopback server with the SageMaker serving contract. See docs/02-training-validation.md.
PORT ?= 8080
VERSION ?=

.PHONY: ml-flow
ml-flow: $(VENV_STAMP) ## preprocess, train, evaluate, gate, register (MLflow), serve on loopback, smoke test, summary
	@$(PY) -m ml.local.flow --env $(ENV)

.PHONY: serve
serve: $(VENV_STAMP) ## serve the latest registered local model (VERSION=n for another) on 127.0.0.1, PORT=8080 by default
	@$(PY) -m ml.local.server --port $(PORT) $(if $(VERSION),--version $(VERSION))

.PHONY: approve
approve: $(VENV_STAMP) ## mark the latest local model version (or VERSION=n) Approved and make it the champion
	@$(PY) -m ml.local.registry approve $(if $(VERSION),--version $(VERSION))

.PHONY: reject
reject: $(VENV_STAMP) ## mark the latest local model version (or VERSION=n) Rejected
	@$(PY) -m ml.local.registry reject $(if $(VERSION),--version $(VERSION))

.PHONY: models
models: $(VENV_STAMP) ## list the local registry's model versions, their approval status and approval history
	@$(PY) -m ml.local.registry list

.PHONY: drift
drift: $(VENV_STAMP) ## drift check of captured traffic: make drift CAPTURE=folder|file [BASELINE=baseline.json|model dir] (exit 0/3/2)
	@test -n "$(CAPTURE)" || { echo "usage: make drift CAPTURE=<capture folder or .jsonl file> [BASELINE=<baseline.json or model folder>]" >&2; exit 2; }
	@# Without BASELINE, the baseline of the latest model in the local registry (make run registers one).
	@baseline='$(BASELINE)'; [ -n "$$baseline" ] || baseline=$$($(PY) -m ml.local.latest baseline) || exit 2; \
	  $(PY) -m ml.drift --env $(ENV) --capture '$(CAPTURE)' --baseline "$$baseline" --output-dir .local/drift

# Local MLflow store operations (seed 004: backup, restore, cleanup); docs/02-training-validation.md.
.PHONY: mlflow-backup
mlflow-backup: $(VENV_STAMP) ## write one verified archive of the local MLflow store into DEST (default .local/backups)
	@$(PY) -m ml.local.store_ops backup --dest '$(or $(DEST),.local/backups)'

.PHONY: mlflow-restore
mlflow-restore: $(VENV_STAMP) ## restore FILE=<archive> into the empty local store (or INTO=<empty folder>); refuses bad archives
	@test -n "$(FILE)" || { echo "usage: make mlflow-restore FILE=.local/backups/mlflow-backup-<time>.tar.gz [INTO=folder]" >&2; exit 2; }
	@$(PY) -m ml.local.store_ops restore '$(FILE)' $(if $(INTO),--into '$(INTO)')

.PHONY: mlflow-gc
mlflow-gc: $(VENV_STAMP) ## mlflow gc: remove runs deleted more than DAYS ago (default: ENV's mlflow.deleted_run_retention_days)
	@$(PY) -m ml.local.store_ops gc --env $(ENV) $(if $(DAYS),--days $(DAYS))

.PHONY: model-selection
model-selection: $(VENV_STAMP) ## how features and estimator were chosen: repeated cross-validation vs the gender rule, ablation
	@$(PY) -m ml.local.model_selection

.PHONY: bench-drift
bench-drift: $(VENV_STAMP) ## drift check: false-alarm rate when nothing changed (ENV's thresholds), time of one 10000-record window
	@$(PY) -m ml.local.drift_calibration --env $(ENV)

UI_PORT ?= 5000

.PHONY: mlflow-ui
mlflow-ui: $(VENV_STAMP) ## browse the local MLflow store (runs, plots, versions, aliases) on http://127.0.0.1:UI_PORT (5000)
	@$(PY) -m ml.local.mlflow_ui --port $(UI_PORT)

CHECK_RECORDS ?= 1000,10000,30000

.PHONY: bench-drift-check
bench-drift-check: $(VENV_STAMP) ## the drift-check Lambda on windows of CHECK_RECORDS capture records (moto): time, memory
	@$(PY) scripts/bench_drift_check.py --env $(ENV) --records $(CHECK_RECORDS)

.PHONY: bench-ml
bench-ml: $(VENV_STAMP) ## inference latency (in process, HTTP), throughput, batch of 1000, make-run time: table + JSON
	@$(PY) -m ml.local.bench

.PHONY: container-parity
container-parity: $(VENV_STAMP) $(CONTAINER_STAMP) ## run preprocess/train/evaluate/inference on the container's Python 3.9 + library versions (not in make test)
	@scripts/container_parity.sh

.PHONY: clean
clean: ## remove generated files (keeps .venv and node_modules)
	@rm -rf cdk.out .pytest_cache .ruff_cache
