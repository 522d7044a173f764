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

.PHONY: setup demo test test-all bench clean system-deps llm llama-cpp model

setup: $(STAMP) system-deps

# torch==2.13.0 first: it resolves to the local CPU wheel, so nothing later pulls a CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[train,ui,slack,api,dev]"
	touch $(STAMP)

# Real EDA tools (yosys, tclsh), the Tcl sandbox (bubblewrap, libseccomp, prlimit from util-linux), pandoc, g++ and
# cmake (to build llama.cpp), and
# Chromium for the browser tests, where apt exists.
system-deps:
	@if command -v yosys >/dev/null && command -v tclsh >/dev/null && command -v chromium >/dev/null \
	    && command -v bwrap >/dev/null && command -v prlimit >/dev/null && command -v pandoc >/dev/null \
	    && command -v c++ >/dev/null && command -v cmake >/dev/null \
	    && ldconfig -p | grep -q libseccomp.so.2; then :; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq yosys tcl chromium bubblewrap libseccomp2 util-linux pandoc g++ cmake >/dev/null; \
	else echo "note: install yosys, tcl, chromium, bubblewrap, libseccomp, util-linux, pandoc, g++ and cmake with your package manager"; fi

# The real assistant: llama.cpp (compiled here, once: pip caches the wheel) and the embedded GGUF models.
# Every step says why when it fails and carries on with exit 0, so `make demo` still runs retrieval-only.
# Build flags, read from llama-cpp-python 0.3.36's CMakeLists.txt and its vendored llama.cpp:
# - LLAVA_BUILD=OFF skips libmtmd (tools/mtmd: 54 C++ files, ~10% of the build). It serves only the multimodal
#   (image) chat handlers, which import it lazily; text models, the chat template and the server don't need it.
# - LLAMA_OPENSSL=OFF: HTTPS only serves llama.cpp's own model downloader in its `common` library (which
#   llama-cpp-python forces on); without it the build needs no OpenSSL headers and the library links no libssl.
# - not LLAMA_BUILD_TOOLS/EXAMPLES/TESTS/SERVER=OFF: they default to LLAMA_STANDALONE, which is OFF when
#   llama.cpp is a subproject as here, so those flags would change nothing.
# - GGML_NATIVE stays on (the default): kernels for this CPU (AVX-512/VNNI where present). Your own CMAKE_ARGS
#   come last and win (e.g. CMAKE_ARGS=-DGGML_NATIVE=OFF for a portable wheel).
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DLLAMA_OPENSSL=OFF
MODELS := qwen2.5-coder-1.5b smollm2-135m

llm: llama-cpp model

llama-cpp: $(STAMP)
	@if $(BIN)/python -c "import sys, llama_cpp, sse_starlette, starlette_context; \
	    sys.exit(llama_cpp.__version__ != '$(LLAMA_CPP_VERSION)')" 2>/dev/null; then \
	  echo "llm: llama-cpp-python $(LLAMA_CPP_VERSION) with its server is installed"; \
	elif ! command -v c++ >/dev/null; then \
	  echo "note: no C++ compiler (c++), so llama-cpp-python cannot be built: the assistant runs retrieval-only." \
	       "Install g++ (and cmake) and run 'make llm' for generated answers."; \
	else \
	  echo "llm: building llama-cpp-python $(LLAMA_CPP_VERSION) (compiles llama.cpp: ~10 CPU-minutes, once)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) $$CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	    $(BIN)/python -m pip install -q "llama-cpp-python[server]==$(LLAMA_CPP_VERSION)" \
	  || echo "note: llama-cpp-python did not build or install (the error is above: compiler, cmake, disk?):" \
	          "the assistant runs retrieval-only until 'make llm' succeeds."; \
	fi

model: $(STAMP)
	@for m in $(MODELS); do \
	  $(BIN)/chipassist model install $$m \
	  || echo "note: model $$m is not installed (the reason is above: no registry access, no disk?):" \
	          "the assistant runs retrieval-only without it; run 'make model' again later."; \
	done

# The real assistant where the embedded model could be installed (`make llm`), else retrieval-only, said so.
demo: setup llm
	$(BIN)/chipassist index corpora/sample --index $(INDEX)
	@if $(BIN)/python -c "import llama_cpp; from assistant.llm.models import resolve_model; resolve_model('qwen2.5-coder-1.5b')" 2>/dev/null; \
	then echo llamacpp > $(VENV)/.demo-llm; \
	else echo none > $(VENV)/.demo-llm; echo "note: the embedded model is unavailable (see \`make llm\` above): the demo answers retrieval-only"; fi
	CHIPASSIST_LLM_BACKEND=$$(cat $(VENV)/.demo-llm) $(BIN)/chipassist ask "How do I reset the DMA engine and what clears its error status?" --index $(INDEX)
	CHIPASSIST_LLM_BACKEND=$$(cat $(VENV)/.demo-llm) $(BIN)/chipassist tcl generate "Synthesize the UART (top module uart) flattened, print the cell statistics and write the netlist to uart_synth.v" \
	  --design corpora/sample/rtl --index $(INDEX) --rounds 3
	$(BIN)/chipassist bugs import corpora/sample/bugs/bugs.jsonl
	CHIPASSIST_LLM_BACKEND=$$(cat $(VENV)/.demo-llm) $(BIN)/chipassist bugs summarize PICO-101 --kind technical
	CHIPASSIST_LLM_BACKEND=$$(cat $(VENV)/.demo-llm) $(BIN)/chipassist ui --index $(INDEX)

# llama.cpp for the tests of the llamacpp backend (they use the 98 MB SmolLM2 model, never the 1.1 GB one).
test: setup llama-cpp
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
