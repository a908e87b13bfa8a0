# The two commands of the README: `make demo` and `make test`. Both set up first when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo test test-unit lint docs stack-up stack-down stack-status clean

setup: $(STAMP)
	@$(BIN)/fraudctl local fetch

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,stack,service,train]'
	@touch $(STAMP)

demo: setup
	$(BIN)/fraudctl demo

test: setup
	$(BIN)/pytest -v

test-unit: $(STAMP)
	$(BIN)/pytest -v -m 'not stack and not ksqldb'

lint: $(STAMP)
	$(BIN)/ruff check src udf_service tests
	$(BIN)/ruff format --check src udf_service tests
	$(BIN)/mypy

stack-up: setup
	$(BIN)/fraudctl local up
stack-down: $(STAMP)
	$(BIN)/fraudctl local down
stack-status: $(STAMP)
	$(BIN)/fraudctl local status

clean: stack-down
	rm -rf .local $(VENV)

# The rendered SQL of the local environment, kept in docs/ for analysts (a test checks it is current).
docs: $(STAMP)
	$(BIN)/fraudctl render --env local --out build/docs-render
	rm -rf docs/rendered/local && mkdir -p docs/rendered/local
	cp -r build/docs-render/ksql build/docs-render/flink docs/rendered/local/
