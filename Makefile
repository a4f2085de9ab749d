# Two commands on a fresh machine: `make demo` (the main job), then `make test`.
# Both set up .venv first if it is missing or pyproject.toml changed (a stamp file).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test check lint demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Everything, slow tests included (a fresh clone's `make demo`/`make test`, the Dockerfile install).
test: lint
	$(BIN)/pytest

# Lint and the fast tests only.
check: lint
	$(BIN)/pytest -m "not slow"

# Build GTO's showcase registry under build/demo (dulwich only) and show it.
DEMO := build/demo
demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/python -c "from gto_dulwich.builder import build_repo, load_spec; \
	    build_repo(load_spec('fixtures/showcase.yaml'), '$(DEMO)')"
	$(BIN)/gto show -r $(DEMO)
	$(BIN)/gto history -r $(DEMO) --plain

# The demo registry as a static web page: open build/report/index.html.
.PHONY: report
report: demo
	$(BIN)/gto report -r $(DEMO) -o build/report --json --title "Demo registry"

bench: $(STAMP)
	$(BIN)/python bench/run.py --gto-from bench/RESULTS.md
	$(BIN)/python bench/remote.py
	$(BIN)/python bench/get.py
	$(BIN)/python bench/yaml_parse.py
	$(BIN)/python bench/floor.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
