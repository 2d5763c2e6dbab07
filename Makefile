# The two commands the README starts with. Both set up what they need first.
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: setup demo test bench

setup:
	@[ -f $(FASHION) ] || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist)
	@# torch first, pinned: a bare `torch` requirement would pull the CUDA wheels.
	$(PYTHON) -m pip install -q torch==2.13.0
	$(PYTHON) -m pip install -q -e ".[test]"

demo: setup
	petri start configs/petridish_toy.yaml --run-dir runs/petridish_toy --watch

test: setup
	$(PYTHON) -m pytest -q tests

bench: setup
	$(PYTHON) bench/train_throughput.py
