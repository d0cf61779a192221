# Cordon. `make demo` needs only Python 3.11 and pip (wheels only, no compiler); `make test` also
# builds pdqhash, the tests' reference PDQ, which has no wheel (a C++ compiler: see `compiler`).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# The demo's, the local stack's and `make package`'s packages (requirements-local.txt)...
RUN_STAMP := $(VENV)/.installed-run
# ...and with them the tests', the benchmarks' and the linters' (requirements-dev.txt).
STAMP := $(VENV)/.installed
export AWS_DEFAULT_REGION ?= us-east-1
# numpy's BLAS on one thread, as deployed (.chalice/config.json): two test workers on two cores
# otherwise fight over threads and run several times slower.
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: demo test lint package bench local clean browser compiler

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# --only-binary: pip refuses to build anything, so the demo never needs a compiler (a package
# that lost its wheel fails here, loudly, instead of compiling).
$(RUN_STAMP): $(BIN)/python requirements.txt requirements-local.txt pyproject.toml
	@date +%s > $(VENV)/.setup-started
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --only-binary :all: -r requirements-local.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@ && echo "setup took $$(( $$(date +%s) - $$(cat $(VENV)/.setup-started) )) s" \
	  "(the demo's packages, wheels only, $$(du -sm $(VENV) | cut -f1) MB in $(VENV))"

$(STAMP): $(RUN_STAMP) requirements-dev.txt | compiler
	@date +%s > $(VENV)/.setup-started
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@ && echo "setup took $$(( $$(date +%s) - $$(cat $(VENV)/.setup-started) )) s" \
	  "(the tests' packages, $$(du -sm $(VENV) | cut -f1) MB in $(VENV))"

demo: $(RUN_STAMP)  ## start the local stack, run the demo scenario, print what happened
	$(BIN)/cordon demo

local: $(RUN_STAMP)  ## run the local stack until Ctrl-C
	$(BIN)/cordon local

# pdqhash (requirements-dev.txt) ships no wheel: pip builds its C++ extension, which needs a
# C++ compiler and Python's headers. Install them where we may (root, apt), as for Chromium.
compiler:
	@command -v c++ >/dev/null && $(BIN)/python -c "import sysconfig, os, sys; \
	  sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq g++ python3-dev >/dev/null; } || \
	  echo "no C++ compiler or Python headers: pdqhash (the tests' reference PDQ) may not build"

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

package: $(RUN_STAMP)  ## SAM template + deployment package in build/, checked by cfn-lint
	$(BIN)/python infra/build_merge_template.py build/merge.json
	$(BIN)/chalice package --merge-template build/merge.json build/package
	$(BIN)/cfn-lint build/package/sam.json
	$(BIN)/python infra/check_package_size.py build/package/deployment.zip

clean:
	rm -rf build .pytest_cache
