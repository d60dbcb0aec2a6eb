PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin

.PHONY: setup setup-sam test lint demo up down deploy clean

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
	python3.12 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==1.170.0
	touch $@

test: setup setup-sam
	PATH="$(CURDIR)/$(BIN):$$PATH" SAM_CLI="$(CURDIR)/$(SAM_VENV)/bin/sam" $(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check infra layers functions tests

up: setup
	$(BIN)/mhpe cloud up

down:
	$(BIN)/mhpe cloud down

deploy: setup
	$(BIN)/mhpe deploy

demo: setup
	$(BIN)/mhpe cloud up
	$(BIN)/mhpe deploy
	$(BIN)/mhpe outputs

clean:
	rm -rf $(VENV) $(SAM_VENV) .localcloud .aws-sam
