# One entry point for people and CI. `make demo` and `make test` work on a fresh machine:
# they create the virtual environment, install portrisk and fetch the Kafka jars first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test lint bench model broker-stop clean

setup: $(VENV)/.installed
	@$(BIN)/portrisk broker fetch

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "portrisk needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[train,dev]"
	@touch $@

demo: setup
	$(BIN)/portrisk demo $(DEMO_ARGS)

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

broker-stop:
	-$(BIN)/portrisk broker stop

clean: broker-stop
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The default model (models/default/): a full-scale 180-day world with a fixed seed, then training.
# Half a year, so that the drift route (from day 90) has weeks of samples and seizures before the
# training cut-off (day 138), as it would in reality. Same seeds, same model; the world lives in data/
# (not in git). About 10 minutes on two cores (simulate 2, train 7); then
# `portrisk evaluate --world data/world-default` scores the held-out last 42 days.
.PHONY: model
model: $(VENV)/.installed
	$(BIN)/portrisk simulate --days 180 --seed 7 --out data/world-default
	rm -rf models/default
	$(BIN)/portrisk train --world data/world-default --out models/default --seed 0
