# `make run` and `make test` set everything up on first use (idempotent), then do their job.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test bench clean

setup: $(STAMP)

# torch==2.13.0 first when no torch is present (the package itself only asks for a range,
# so GPU users keep their own build), then the project and its test extras, editable.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m runner $(ARGS)

test: $(STAMP)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m pytest -q $(ARGS)

bench: $(STAMP)
	$(PY) benchmarks/bench_training_loop.py
	$(PY) benchmarks/bench_arrow_load.py

clean:
	rm -rf $(VENV) outputs/runs outputs/multirun outputs/mlflow.db outputs/mlartifacts
