PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
DVC_VENV := .venv-dvc
# The first Python 3.12 that runs: on PATH, or one that pyenv installed but has not activated.
PYTHON312 ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12; do \
	$$p -c 'import sys' 2>/dev/null && { echo $$p; break; }; done)
BIN := $(VENV)/bin

.PHONY: setup setup-sam setup-dvc repro test lint demo up down deploy clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The SAM CLI pins its own boto3, so it lives in a virtual environment of its own.
# `sam build` needs python3.12 on PATH because the template declares that runtime.
setup-sam: $(SAM_VENV)/.installed

$(SAM_VENV)/.installed:
	@test -n "$(PYTHON312)" || { echo "setup-sam: Python 3.12 not found; install it or set PYTHON312=/path/to/python3.12"; exit 1; }
	$(PYTHON312) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==1.170.0
	touch $@

# DVC and dvc-s3 pin an older botocore than boto3 and moto 5.2.5 need, so DVC, like the SAM
# CLI, lives in a virtual environment of its own.
setup-dvc: $(DVC_VENV)/.installed

$(DVC_VENV)/.installed:
	$(PYTHON) -m venv $(DVC_VENV)
	$(DVC_VENV)/bin/pip install --quiet --upgrade pip
	$(DVC_VENV)/bin/pip install --quiet dvc==3.67.1 dvc-s3==3.3.0
	touch $@

# dvc.yaml's stages call `mhpe`, so .venv/bin goes first on PATH. DVC's usage analytics stay
# off (here and in .dvc/config), because they would send requests to DVC's servers.
DVC_ENV := PATH="$(CURDIR)/$(BIN):$$PATH" DVC_NO_ANALYTICS=1 AWS_EC2_METADATA_DISABLED=true

# Reproduce dvc.yaml's stages (quality gate, then training) on data/batches.
repro: setup setup-dvc
	$(DVC_ENV) $(DVC_VENV)/bin/dvc repro

test: setup setup-sam setup-dvc
	PATH="$(CURDIR)/$(BIN):$(CURDIR)/$(SAM_VENV)/bin:$$PATH" SAM_CLI="$(CURDIR)/$(SAM_VENV)/bin/sam" $(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check infra layers functions tests

up: setup
	$(BIN)/mhpe cloud up

down:
	$(BIN)/mhpe cloud down

deploy: setup
	$(BIN)/mhpe deploy

# The main job: real Ames batches through S3 to a champion model, then prices from the API.
demo: setup
	$(BIN)/python scripts/demo.py

clean:
	rm -rf $(VENV) $(SAM_VENV) $(DVC_VENV) .localcloud .aws-sam
