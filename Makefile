# l4sim: every target sets up what it needs.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
L4SIM   := $(BIN)/l4sim
# extra options for 'make sweep' and 'make figures', e.g. ARGS="--jobs 2" or
# ARGS="--scheduler tcp://host:8786" or ARGS="--force"
ARGS    ?=
# the documentation, built afresh (-E: a docstring changed in the code shows), a
# warning failing it: a broken link, a reference the code no longer has
SPHINX  = $(BIN)/sphinx-build -E -W --keep-going -q -b html docs build/docs

.PHONY: help venv figures sweep report notebooks test lint docs bench scaling validation clean \
        sensitivity sel4checks

help:  ## list the targets
	@grep -E '^[a-z0-9]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# uv installs the same packages as pip about ten times faster (most of make test's
# set-up time was pip's); where uv cannot be had, pip does it
# (a line per step: the installation is quiet and takes a while)
$(STAMP): pyproject.toml
	@echo "set-up 1/3: creating the virtual environment $(VENV) ($(PY))"
	$(PY) -m venv $(VENV)
	@echo "set-up 2/3: installing l4sim and its dependencies into $(VENV) (uv; pip where uv cannot be had)"
	$(BIN)/pip install --quiet uv && $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]' \
	  || { $(BIN)/pip install --quiet --upgrade pip && $(BIN)/pip install --quiet -e '.[dev]'; }
	touch $(STAMP)

# the hot modules compiled with Cython (l4sim/build.py); again whenever one changes.
# The build always leaves a manifest: a failed one says why (python -m l4sim.build
# --status) and leaves pure Python, which gives the same results, only slower.
HOTDIRS := l4sim/kernel l4sim/sim l4sim/workloads
HOT     := $(wildcard $(addsuffix /*.py,$(HOTDIRS)) $(addsuffix /*.pxd,$(HOTDIRS))) \
           l4sim/build.py l4sim/compiled.py
READY   := l4sim/_compiled/manifest.json
$(READY): $(STAMP) $(HOT)
	@echo "set-up 3/3: compiling the simulator's hot modules (Cython)"
	$(BIN)/python -m l4sim.build

venv: $(READY)  ## create .venv with l4sim installed editable (dev extras), hot modules compiled

figures: $(READY)  ## main job: run (or resume) the paper's scenarios, draw the figures, write results/report.md
	$(L4SIM) report $(ARGS)

sweep: $(READY)  ## run any scenario: make sweep SCENARIO=scenarios/x.toml [ARGS="--jobs 2"]
	@test -n "$(SCENARIO)" || (echo "usage: make sweep SCENARIO=scenarios/NAME.toml" >&2; exit 2)
	$(L4SIM) run $(SCENARIO) $(ARGS)

report: $(READY)  ## the claims report alone: l4sim report (reuses cached results; same job as figures)
	$(L4SIM) report $(ARGS)

notebooks: $(READY)  ## execute notebooks/*.ipynb; executed copies go to results/notebooks/
	$(BIN)/python notebooks/execute.py

test: $(READY)  ## ruff, the types (mypy), the layers (lint-imports), the docs' build and the whole test suite
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(SPHINX)
	$(BIN)/pytest -n auto

docs: $(STAMP)  ## build the documentation into build/docs/ (open build/docs/index.html)
	$(SPHINX)

lint: $(STAMP)  ## ruff, the types (mypy) and the layers' contracts only
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(READY)  ## memory per entry of a long run; speed end to end through l4sim run vs a bare SimPy loop
	$(BIN)/python benchmarks/memory.py
	$(BIN)/python benchmarks/engine_floor.py
	$(BIN)/python benchmarks/bench_speed.py

scaling: $(READY)  ## CPU-count sweep (1..64) per lock design and kernel_lock, and its figure
	$(L4SIM) run scenarios/scaling.toml
	$(L4SIM) plot results/scaling

# the paper's sensitivity studies (docs/how-to/sensitivity.md), one scenario each
STUDIES := linux syscall ipc scaling
sensitivity: $(READY)  ## which costs decide each claim: results/sensitivity_*/, then make report
	for study in $(STUDIES); do \
	  $(L4SIM) sensitivity scenarios/sensitivity_$$study.toml $(ARGS) || exit $$?; done

# seL4's fastpath checks outside its big lock (docs/background/sel4-big-lock.md): the prediction's runs
SEL4CHECKS := sel4_checks_smp sel4_checks_smp_static sel4_checks_ipc sel4_checks_ipc_static \
              sel4_checks_band
sel4checks: $(READY)  ## seL4's checks outside the big lock: results/sel4_checks_*/, then make report
	for name in $(SEL4CHECKS); do \
	  $(L4SIM) run scenarios/$$name.toml $(ARGS) || exit $$?; done

validation: $(READY)  ## print the lock model's validation table (analytic vs simulated)
	$(BIN)/python -m l4sim.analysis.validation

clean:  ## remove generated results and their caches (keeps .venv)
	find results -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
