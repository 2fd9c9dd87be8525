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

# Offline and quiet by default (see ../shared/toolchain.md): no telemetry, no instance-metadata probing,
# no jsii end-of-life banner, a fixed region for SDK clients that need one.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_EC2_METADATA_DISABLED := true
export AWS_DEFAULT_REGION ?= eu-west-1
export PYTHONDONTWRITEBYTECODE := 1

VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# ---------------------------------------------------------------------------------------------- environment
$(VENV_STAMP): requirements.txt requirements-dev.txt
	@echo ">> creating $(VENV) and installing pinned dependencies (first run takes a few minutes)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@echo ">> installing the pinned AWS CDK CLI (npm ci)"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: venv
venv: $(VENV_STAMP) ## create .venv with the pinned Python dependencies

# ---------------------------------------------------------------------------------------------- the two commands
.PHONY: run
run: synth ## the main job without AWS: synthesize every environment and summarize it
	@$(PY) scripts/synth_summary.py cdk.out

.PHONY: test
test: lint unit cfn-lint ## everything: lint, the whole pytest suite, cfn-lint on every template

.PHONY: lint
lint: $(VENV_STAMP) ## ruff lint and format check
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

.PHONY: unit
unit: $(VENV_STAMP) ## the pytest suite
	@$(PY) -m pytest

.PHONY: cfn-lint
cfn-lint: synth ## cfn-lint on every synthesized template (errors fail)
	@$(VENV)/bin/cfn-lint --non-zero-exit-code error cdk.out/*.template.json
	@echo "cfn-lint: $$(ls cdk.out/*.template.json | wc -l) templates, 0 errors"

# ---------------------------------------------------------------------------------------------- infrastructure
.PHONY: synth
synth: $(VENV_STAMP) ## synthesize every environment into cdk.out/ (offline; fails on any nag finding or missing tag)
	@rm -rf cdk.out
	@env -u ENV CDK_OUTDIR=cdk.out $(PY) app.py

.PHONY: nag-report
nag-report: synth ## list every cdk-nag acknowledgment with its reason (writes docs/nag-acknowledgments.md)
	@$(PY) scripts/nag_report.py cdk.out docs/nag-acknowledgments.md

.PHONY: snapshots
snapshots: $(VENV_STAMP) ## update the template snapshots after an intended infrastructure change
	@$(PY) -m pytest tests/infra/test_snapshots.py --snapshot-update -q

.PHONY: diff
diff: $(VENV_STAMP) $(NODE_STAMP) ## compare ENV's stacks with what is deployed (needs AWS credentials)
	@$(CDK) diff --no-notices -c env=$(ENV) 'titanic-$(ENV)-*'

.PHONY: deploy
deploy: $(VENV_STAMP) $(NODE_STAMP) ## deploy ENV's stacks (needs AWS credentials and a bootstrapped account)
	@$(CDK) deploy --no-notices -c env=$(ENV) --require-approval broadening 'titanic-$(ENV)-*'

# ---------------------------------------------------------------------------------------------- release operations
# Phases 04/06: answer the promotion workflow's approval gate, roll prod back, clean up runtime resources.
# These reach AWS (credentials for ENV's account); see docs/04-serving-ecs-sagemaker.md.
STAGE ?= prod
TARGET ?= all

.PHONY: approve-release
approve-release: $(VENV_STAMP) ## let the release waiting for approval go to prod (ENV=… TOKEN=…; needs AWS)
	@test -n "$(TOKEN)" || { echo "TOKEN=<task_token from the approval message> is required"; exit 2; }
	@$(PY) scripts/release.py approve --env $(ENV) --token '$(TOKEN)'

.PHONY: reject-release
reject-release: $(VENV_STAMP) ## stop the release waiting for approval (ENV=… TOKEN=… [REASON=…]; needs AWS)
	@test -n "$(TOKEN)" || { echo "TOKEN=<task_token from the approval message> is required"; exit 2; }
	@$(PY) scripts/release.py reject --env $(ENV) --token '$(TOKEN)' --reason '$(or $(REASON),rejected by the approver)'

.PHONY: rollback
rollback: $(VENV_STAMP) ## redeploy the package prod served before its current one (ENV=… STAGE=prod; needs AWS)
	@$(PY) scripts/release.py rollback --env $(ENV) --stage $(STAGE)

.PHONY: cleanup
cleanup: $(VENV_STAMP) ## list (CONFIRM=yes: delete) endpoints/configs/models the workflow made (ENV=… TARGET=all|endpoints|models|configs; needs AWS)
	@$(PY) scripts/release.py cleanup --env $(ENV) --target $(TARGET) $(if $(filter yes,$(CONFIRM)),--confirm,)

# ---------------------------------------------------------------------------------------------- benchmarks
.PHONY: bench
bench: bench-synth ## every benchmark

.PHONY: bench-synth
bench-synth: $(VENV_STAMP) ## synth time of the full app against an empty CDK app (medians, ratio)
	@$(PY) scripts/bench_synth.py $(or $(REPS),5)

.PHONY: clean
clean: ## remove generated files (keeps .venv and node_modules)
	@rm -rf cdk.out .pytest_cache .ruff_cache
