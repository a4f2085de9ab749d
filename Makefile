# Two commands on a fresh machine: `make install`, then `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint demo bench clean

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# Build GTO's showcase registry under build/demo (dulwich only) and show it.
DEMO := build/demo
demo:
	rm -rf $(DEMO)
	$(BIN)/python -c "from gto_dulwich.builder import build_repo, load_spec; \
	    build_repo(load_spec('fixtures/showcase.yaml'), '$(DEMO)')"
	$(BIN)/gto show -r $(DEMO)
	$(BIN)/gto history -r $(DEMO) --plain

bench:
	$(BIN)/python bench/run.py
	$(BIN)/python bench/remote.py
	$(BIN)/python bench/get.py
	$(BIN)/python bench/yaml_parse.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
