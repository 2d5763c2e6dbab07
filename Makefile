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
	petri train DARTS_V2 --dataset fashion-mnist --channels 8 --cells 5 --epochs 2 --subset 10000 --lr 0.05 --test

test: setup
	$(PYTHON) -m pytest -q tests

bench: setup
	$(PYTHON) bench/train_throughput.py
