# ChipAssist: `make demo` sets up and runs the main job; `make test` sets up and runs the tests.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX ?= .chipassist/index
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test test-all bench clean system-deps

setup: $(STAMP) system-deps

# torch==2.13.0 first: it resolves to the local CPU wheel, so nothing later pulls a CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[train,ui,slack,dev]"
	touch $(STAMP)

# Real EDA tools (yosys, tclsh), the Tcl sandbox (bubblewrap, libseccomp, prlimit from util-linux), pandoc, and
# Chromium for the browser tests, where apt exists.
system-deps:
	@if command -v yosys >/dev/null && command -v tclsh >/dev/null && command -v chromium >/dev/null \
	    && command -v bwrap >/dev/null && command -v prlimit >/dev/null && command -v pandoc >/dev/null \
	    && ldconfig -p | grep -q libseccomp.so.2; then :; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq yosys tcl chromium bubblewrap libseccomp2 util-linux pandoc >/dev/null; \
	else echo "note: install yosys, tcl, chromium, bubblewrap, libseccomp, util-linux and pandoc with your package manager"; fi

# The real assistant where the embedded model could be installed (`make llm`), else retrieval-only, said so.
demo: setup llm
	$(BIN)/chipassist index corpora/sample --index $(INDEX)
	@if $(BIN)/python -c "import llama_cpp" 2>/dev/null && $(BIN)/chipassist model list --json | grep -q '"installed"'; \
	then echo llamacpp > $(VENV)/.demo-llm; \
	else echo none > $(VENV)/.demo-llm; echo "note: the embedded model is unavailable (see \`make llm\` above): the demo answers retrieval-only"; fi
	CHIPASSIST_LLM_BACKEND=$$(cat $(VENV)/.demo-llm) $(BIN)/chipassist ask "How do I reset the DMA engine and what clears its error status?" --index $(INDEX)
	CHIPASSIST_LLM_BACKEND=$$(cat $(VENV)/.demo-llm) $(BIN)/chipassist tcl generate "Synthesize the UART (top module uart) flattened, print the cell statistics and write the netlist to uart_synth.v" \
	  --design corpora/sample/rtl --index $(INDEX) --rounds 3
	$(BIN)/chipassist bugs import corpora/sample/bugs/bugs.jsonl
	CHIPASSIST_LLM_BACKEND=$$(cat $(VENV)/.demo-llm) $(BIN)/chipassist bugs summarize PICO-101 --kind technical
	CHIPASSIST_LLM_BACKEND=$$(cat $(VENV)/.demo-llm) $(BIN)/chipassist ui --index $(INDEX)

test: setup
	$(BIN)/python -m pytest -q

test-all: setup
	$(BIN)/python -m pytest -q -m "not gpu"

bench: setup
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python bench/retrieval.py --every 10
	$(BIN)/python bench/tcl_bench.py --part planted
	$(BIN)/python bench/bug_assign.py

clean:
	rm -rf .chipassist .pytest_cache
