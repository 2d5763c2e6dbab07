# The two commands the README starts with. Both set up what they need first, inside a project
# virtual environment (.venv): stock Debian/Ubuntu Python refuses `pip install` into the system
# interpreter (PEP 668), and a venv holds exactly what setup.py declares, nothing installed by hand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
STAMP := $(VENV)/.petri-installed

.PHONY: setup demo test test-fast bench gpu-check docs docs-serve clean-venv

setup: $(STAMP)

# Rebuilt when setup.py changes, so a new dependency reaches every developer's venv.
$(STAMP): setup.py
	@[ -f $(FASHION) ] || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist)
	@# Debian splits venv/ensurepip into python3-venv; without it `python3 -m venv` fails.
	@$(PYTHON) -c "import ensurepip" 2>/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv)
	$(PYTHON) -m venv $(VENV)
	@# torch first, pinned: a bare `torch` requirement would pull the CUDA wheels.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test]"
	@touch $@

demo: setup
	$(VENV)/bin/petri start configs/petridish_toy.yaml --run-dir runs/petridish_toy --watch

test: setup
	$(PY) -m pytest -q tests

# The fast layer only (no end-to-end daemon runs): under a minute.
test-fast: setup
	$(PY) -m pytest -q -m "not slow" tests

bench: setup
	$(PY) bench/train_throughput.py

# Every CUDA figure petri claims (bench/gpu_check.py), as a table in runs/gpu_check.md; on a
# machine without a GPU: make gpu-check ARGS=--dry-run
gpu-check: setup
	bench/gpu_check.sh $(ARGS)

# The docs site (mkdocs.yml) into site/; --strict turns every warning, a broken link among
# them, into a failure.
docs: setup
	$(VENV)/bin/mkdocs build --strict

docs-serve: setup
	$(VENV)/bin/mkdocs serve

clean-venv:
	rm -rf $(VENV)
