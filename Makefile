# Thin wrappers around the `mlkata` tool. Every target sets up .venv on first use.
#   make check EX=attention          grade your exercises/attention.py
#   make test                        the kit's own test suite
#   make list / progress             where you stand; make hint EX=... reveals the next hint
#   make watch [EX=...]              re-grade on every save
#   make reset EX=... / make restore EX=...   a fresh stub (your file is backed up) / bring it back
#   make interview [EX=...] [MINUTES=45]      a timed blank-slate attempt (default: a random weak one)
#   make grade                       grade every exercise, as CI does
# GPU users: make TORCH="torch==2.13.0" TORCH_INDEX=<your CUDA wheel index URL> check EX=...

PYTHON      ?= python3
VENV        ?= .venv
TORCH       ?= torch==2.13.0
TORCH_INDEX ?=
EX          ?= attention
IMPL        ?= exercises
ARGS        ?=
BACKUP      ?=
MINUTES     ?= 45

BIN   := $(VENV)/bin
STAMP := $(VENV)/.mlkata-installed

.PHONY: setup check test test-thorough test-gpu stubs list progress hint watch train bench clean \
	solution reset backups restore interview grade manifest

setup: $(STAMP)

$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) (first run only; about half a minute)..."
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check \
		$(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[test]"
	@touch $@

check: $(STAMP)
	@$(BIN)/mlkata check $(EX) --impl $(IMPL) $(ARGS)

test: $(STAMP)
	@CI=1 $(BIN)/python -m pytest -q --impl=solutions --hypothesis-profile=ci tests selftest $(ARGS)

test-thorough: $(STAMP)
	@$(BIN)/python -m pytest -q --impl=solutions --hypothesis-profile=thorough tests selftest $(ARGS)

test-gpu: $(STAMP)
	@$(BIN)/python -m pytest -q --impl=solutions -m gpu -rs tests $(ARGS)

stubs: $(STAMP)
	@$(BIN)/mlkata stubs

list: $(STAMP)
	@$(BIN)/mlkata list

progress: $(STAMP)
	@$(BIN)/mlkata progress $(ARGS)

hint: $(STAMP)
	@$(BIN)/mlkata hint $(EX)

watch: $(STAMP)
	@$(BIN)/mlkata watch $(if $(filter command line,$(origin EX)),$(EX)) $(ARGS)

solution: $(STAMP)
	@$(BIN)/mlkata solution $(EX) $(ARGS)

# EX is required here (no default): `make reset EX=attention`, or `make reset ARGS=--all`.
reset: $(STAMP)
	@$(BIN)/mlkata reset $(if $(filter command line,$(origin EX)),$(EX)) $(ARGS)

backups: $(STAMP)
	@$(BIN)/mlkata backups $(ARGS)

# `make restore EX=attention` brings back attention's newest backup; BACKUP=<# or name> picks one.
restore: $(STAMP)
	@$(BIN)/mlkata restore $(or $(BACKUP),$(EX))

interview: $(STAMP)
	@$(BIN)/mlkata interview $(if $(filter command line,$(origin EX)),$(EX),--random) --minutes $(MINUTES) $(ARGS)

grade: $(STAMP)
	@$(BIN)/mlkata grade --all --impl $(IMPL) $(ARGS)

manifest: $(STAMP)
	@$(BIN)/mlkata manifest --update

train: $(STAMP)
	@$(BIN)/mlkata train --impl $(IMPL) $(ARGS)

bench: $(STAMP)
	@$(BIN)/mlkata bench $(if $(filter command line,$(origin EX)),$(EX),--all) --impl $(IMPL) $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
