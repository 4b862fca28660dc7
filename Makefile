# Two commands on a fresh clone: `make demo` and `make test`.
# Every target creates .venv and installs the project when it is missing or
# when pyproject.toml changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export TF_CPP_MIN_LOG_LEVEL ?= 2
export KERAS_BACKEND ?= tensorflow
export PYTHONUNBUFFERED := 1

.PHONY: demo test test-tensorflow test-jax test-fast lint format bench install clean

# pytest-xdist workers: two suit the two cores `make test` is sized for.
# worksteal balances uneven test durations (a few end-to-end tests take far
# longer than the rest) better than grouping by module.
WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(WORKERS) --dist worksteal

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check keras_apps tests benchmarks examples clients
	$(BIN)/ruff format --check keras_apps tests benchmarks examples clients
	$(BIN)/mypy keras_apps

format: $(STAMP)
	$(BIN)/ruff check --fix keras_apps tests benchmarks examples clients
	$(BIN)/ruff format keras_apps tests benchmarks examples clients

# Lint, then the whole suite on TensorFlow and the backend-free tests again on
# JAX (tests/conftest.py deselects the ones that need TensorFlow). The two
# halves run side by side, so that one half's long last tests do not leave a
# core idle; each half's output is printed when it ends.
test: lint
	$(MAKE) --no-print-directory -j2 --output-sync=target test-tensorflow test-jax

test-tensorflow: $(STAMP)
	KERAS_BACKEND=tensorflow $(PYTEST)

test-jax: $(STAMP)
	KERAS_BACKEND=jax $(PYTEST)

# The inner loop: TensorFlow, without the tests marked slow (> 10 s).
test-fast: $(STAMP)
	KERAS_BACKEND=tensorflow $(PYTEST) -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
