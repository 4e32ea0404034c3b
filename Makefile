# Two commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

SPARK  := $(VENV)/.spark
# Java 17 or later on this machine: the Spark engine (churnml[spark]) is installed and tested.
HAS_JAVA17 = java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])'

.PHONY: run run-spark spark test test-slow test-all lint bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

# The Spark engine's extra where Java can run it; elsewhere its tests say they skipped.
$(SPARK): $(STAMP)
	@if $(HAS_JAVA17); then $(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,spark]"; \
	else echo "no Java 17+ here: churnml[spark] is not installed and the Spark tests will skip"; fi
	@touch $(SPARK)

# churnml[spark] (pyspark; Spark needs Java 17+), then the whole chain with the Spark engine.
SPARK_FORCED := $(VENV)/.spark-installed
$(SPARK_FORCED): $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,spark]"
	@touch $(SPARK) $(SPARK_FORCED)

spark: $(SPARK_FORCED)

run-spark: $(SPARK_FORCED)
	$(BIN)/churnml run engine=spark

run: $(STAMP)
	$(BIN)/churnml run

test: $(SPARK)
	$(BIN)/python -m pytest -q -m "not slow" -n 2

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

test-slow: $(SPARK)
	$(BIN)/python -m pytest -q -m slow -n 2

test-all: $(SPARK)
	$(BIN)/python -m pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python bench/load.py
	$(BIN)/python bench/generate.py
	$(BIN)/python bench/features.py
	$(BIN)/python bench/models.py
	$(BIN)/python bench/score.py
	$(BIN)/python bench/real_extracts.py
	$(BIN)/python bench/registry.py
	$(BIN)/python bench/spark.py

clean:
	rm -rf $(VENV) outputs multirun
