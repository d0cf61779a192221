# Cordon. `make demo` and `make test` work on a machine with only Python 3.11 and pip.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AWS_DEFAULT_REGION ?= us-east-1
# numpy's BLAS on one thread, as deployed (.chalice/config.json): two test workers on two cores
# otherwise fight over threads and run several times slower.
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: demo test lint package bench local clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)  ## start the local stack, run the demo scenario, print what happened
	$(BIN)/cordon demo

local: $(STAMP)  ## run the local stack until Ctrl-C
	$(BIN)/cordon local

# The review page's test drives Debian's Chromium; install it where we may (root, apt).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
	  echo "chromium could not be installed: the review page test will be skipped"

test: $(STAMP) browser  ## the whole test suite, two workers
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)  ## benchmarks: they print figures
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_pdq.py

package: $(STAMP)  ## SAM template + deployment package in build/, checked by cfn-lint
	$(BIN)/python infra/build_merge_template.py build/merge.json
	$(BIN)/chalice package --merge-template build/merge.json build/package
	$(BIN)/cfn-lint build/package/sam.json
	$(BIN)/python infra/check_package_size.py build/package/deployment.zip

clean:
	rm -rf build .pytest_cache
