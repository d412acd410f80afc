# newsstance: the two commands a new user runs (see README.md).
#   make train   set up, fetch PolNeAR, fine-tune configs/default.yaml into models/default/
#   make test    set up and run the whole test suite (what CI runs)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first and pinned: on this machine 2.13.0 is a CPU build on local disk;
# an unpinned torch would pull a multi-GB CUDA build. Elsewhere: make TORCH=torch
TORCH ?= torch==2.13.0
# extra arguments for `newsstance train`, e.g. make train TRAIN_ARGS=--overwrite
TRAIN_ARGS ?=

.PHONY: setup train test clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

train: setup
	$(BIN)/newsstance data fetch polnear
	$(BIN)/newsstance train configs/default.yaml $(TRAIN_ARGS)

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) models/smoke
