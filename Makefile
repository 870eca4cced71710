# takeoff: `make run` starts the demo, `make test` runs the whole suite. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR := src/takeoff/web/static/vendor
VENDOR_STAMP := $(VENDOR)/.stamp
export TAKEOFF_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: setup run check test bench clean

setup: $(STAMP) $(VENDOR_STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

$(VENDOR_STAMP): package.json package-lock.json
	npm ci --silent --no-audit --no-fund --ignore-scripts
	@mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/chart.js/dist/chart.umd.min.js \
	   node_modules/@picocss/pico/css/pico.min.css $(VENDOR)/
	@mkdir -p $(VENDOR)/swagger-ui
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
	   node_modules/swagger-ui-dist/oauth2-redirect.html node_modules/swagger-ui-dist/favicon-32x32.png $(VENDOR)/swagger-ui/
	cp node_modules/axe-core/axe.min.js $(VENDOR)/
	@touch $(VENDOR_STAMP)

# `make run PORT=8101` (or TAKEOFF_PORT) serves the demo on another port.
run: setup
	$(BIN)/takeoff demo $(if $(PORT),--port $(PORT))

# Lint, import contracts (the floors of src/takeoff/domains.py among them) and types, configured in pyproject.toml
# (docs/contributing.md). `ruff format --check`
# is not run yet: the tree has not been formatted in one pass.
check: setup
	$(BIN)/ruff check src
	PYTHONPATH=src $(BIN)/lint-imports
	$(BIN)/mypy

# pytest runs in two pytest-xdist workers (-n 2 --dist load): a fresh-clone CI run took 1,213 s of pytest with two,
# 1,874 s with one (2026-12-07); `make test PYTEST_WORKERS=0` runs one process (docs/contributing.md).
PYTEST_WORKERS ?= 2
test: setup check
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist load

bench: setup
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .takeoff
