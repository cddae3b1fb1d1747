# Every target makes its own virtual environment (.venv) on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
STAMP := $(VENV)/.installed-test
LINT_STAMP := $(VENV)/.installed-lint

# make stress T=ManyElections N=200 P=2: see tools/stress.py
T ?=
N ?= 100
P ?= 2

.PHONY: test test-3A test-3B test-3C test-3D test-lab test-tester test-reference test-race test-browser \
	lint bench stress handout clean

# tests/lab: the lab's tests (what students run); tests/tester: the tester's and
# tools' own tests; tests/reference: tests of this repository's Raft beyond the lab API.
test: $(STAMP)
	$(PYTEST) tests

test-3A: $(STAMP)
	$(PYTEST) -k 3A tests/lab

test-3B: $(STAMP)
	$(PYTEST) -k 3B tests/lab

test-3C: $(STAMP)
	$(PYTEST) -k 3C tests/lab

test-3D: $(STAMP)
	$(PYTEST) -k 3D tests/lab

test-lab: $(STAMP)
	$(PYTEST) tests/lab

test-tester: $(STAMP)
	$(PYTEST) tests/tester

test-reference: $(STAMP)
	$(PYTEST) tests/reference

# Race mode (tests/harness/race.py): every lab test also checks Raft's rf.mu discipline.
# RACE_ARGS narrows the run, e.g. make test-race RACE_ARGS="-k 3A".
RACE_ARGS ?=
test-race: $(STAMP)
	$(PYTEST) --race $(RACE_ARGS) tests/lab

# The timeline page drawn in headless chromium (apt-get install chromium first).
test-browser: $(STAMP)
	$(PYTEST) -m browser tests/tester/test_timeline.py

lint: $(LINT_STAMP)
	$(VENV)/bin/ruff check raft labrpc labgob tests bench tools handout
	$(VENV)/bin/mypy --strict raft labrpc labgob

bench: $(STAMP)
	$(PY) -m bench

stress: $(STAMP)
	$(PY) -m tools.stress '$(T)' -n $(N) -p $(P)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(LINT_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,lint]'
	touch $@

# The students' handout (handout/): dist/project3/ and dist/project3.tar.gz.
handout: $(STAMP)
	$(PY) -m handout

clean:
	rm -rf $(VENV) *.egg-info dist
