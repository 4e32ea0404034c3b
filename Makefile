# Two commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-slow test-all lint bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/churnml run

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -n 2

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow -n 2

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python bench/load.py
	$(BIN)/python bench/generate.py
	$(BIN)/python bench/features.py
	$(BIN)/python bench/models.py
	$(BIN)/python bench/score.py
	$(BIN)/python bench/real_extracts.py

clean:
	rm -rf $(VENV) outputs multirun
