# Two commands on a fresh machine with Python 3.11:
#   make run    set up .venv and start the operator console on the embedded defaults
#   make test   set up .venv and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

$(BIN)/riskdesk: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

setup: $(BIN)/riskdesk

run: setup
	$(BIN)/riskdesk chat

test: setup
	$(BIN)/python -m pytest

.PHONY: setup run test
