# Every target makes its own virtual environment (.venv) on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
STAMP := $(VENV)/.installed-test
LINT_STAMP := $(VENV)/.installed-lint

# make stress T=ManyElections N=200 P=2: see tools/stress.py (P: 2 unless given)
# make grade ... P=4: submissions at once (the CPU count unless given)
T ?=
N ?= 100
P ?=
# Every test target passes ARGS on to pytest: make test-3B ARGS="-k Backup", ARGS="-x -v".
ARGS ?=
# SEALED=1 runs each peer in its own process, with none of raft/ in the test's process
# (tests/harness/runtime/sealed.py): make test-3A SEALED=1, and every test target.
SEALED ?=
ifneq ($(SEALED),)
export RAFTLAB_SEALED := $(SEALED)
endif
# SIM=1 runs the tests in virtual time under a seeded scheduler (tests/harness/sim): fast,
# and a failure prints the one command that replays it exactly.
SIM ?=
ifneq ($(SIM),)
export RAFTLAB_SIM := $(SIM)
export PYTHONHASHSEED := 0
endif

.PHONY: test test-3A test-3B test-3C test-3D test-beyond-go test-all test-lab test-tester \
	test-reference test-race test-sealed test-browser test-bugs lint bench stress explore handout grade bench-grade \
	autograder clean

# tests/lab: the lab's tests (what students run); tests/tester: the tester's and
# tools' own tests; tests/reference: tests of this repository's Raft beyond the lab API.
# Two test files at a time (pytest-xdist, a file to a process, so a file's shared
# fixtures are made once): most tests wait on real time, so two take half as long.
# TEST_JOBS=0 runs them one by one.
TEST_JOBS ?= 2
test: $(STAMP)
	$(PYTEST) $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile) $(ARGS) tests

# A part's tests are its file's, so ARGS="-k ..." narrows the part rather than replacing it.
test-3A: $(STAMP)
	$(PYTEST) $(ARGS) tests/lab/test_raft_3a.py

test-3B: $(STAMP)
	$(PYTEST) $(ARGS) tests/lab/test_raft_3b.py

test-3C: $(STAMP)
	$(PYTEST) $(ARGS) tests/lab/test_raft_3c.py

test-3D: $(STAMP)
	$(PYTEST) $(ARGS) tests/lab/test_raft_3d.py

# Lab tests beyond Go's (tests/lab/test_raft_beyond_go.py): crash points, duplicated
# and stale messages. Their names carry no part, so test-3A..3D run only Go's tests.
test-beyond-go: $(STAMP)
	$(PYTEST) $(ARGS) tests/lab/test_raft_beyond_go.py

# Every lab test, Go's and beyond Go's (test-lab too).
test-all test-lab: $(STAMP)
	$(PYTEST) $(ARGS) tests/lab

# Every lab test sealed: each peer its own process (tests/harness/runtime/sealed.py).
test-sealed: $(STAMP)
	RAFTLAB_SEALED=1 $(PYTEST) $(ARGS) tests/lab

test-tester: $(STAMP)
	$(PYTEST) $(ARGS) tests/tester

test-reference: $(STAMP)
	$(PYTEST) $(ARGS) tests/reference

# Race mode (tests/harness/race.py): every lab test also checks Raft's rf.mu discipline.
# ARGS narrows the run, e.g. make test-race ARGS="-k 3A" (RACE_ARGS, its older name, too).
RACE_ARGS ?=
test-race: $(STAMP)
	$(PYTEST) --race $(ARGS) $(RACE_ARGS) tests/lab

# The lab suite against each classic bug planted in the reference (tools/bugs.py):
# make test-bugs [BUGS="a b"] [P=2] [BEFORE=1 for Go's tests only] [SIM=1 [SEEDS=K]]; prints
# the kill rate. SIM=1 SEEDS=K runs each test simulated over seeds 1..K.
BUGS ?=
BEFORE ?=
SEEDS ?=
test-bugs: $(STAMP)
	$(PY) -m tools.bugs -p $(or $(P),2) $(if $(BEFORE),--before) $(if $(BUGS),--only $(BUGS)) \
		$(if $(SEEDS),--seeds $(SEEDS))

# The timeline page drawn in headless chromium (apt-get install chromium first).
test-browser: $(STAMP)
	$(PYTEST) -m browser $(ARGS) tests/tester/test_timeline.py

# Both run, whatever ruff finds; lint fails if either found something.
RUFF_DIRS := raft labrpc labgob tests bench tools handout grade
MYPY_DIRS := raft labrpc labgob grade tests/harness
lint: $(LINT_STAMP)
	@failed=; \
	echo "ruff check $(RUFF_DIRS)"; $(VENV)/bin/ruff check $(RUFF_DIRS) || failed="$$failed ruff"; \
	echo "mypy --strict $(MYPY_DIRS)"; $(VENV)/bin/mypy --strict $(MYPY_DIRS) || failed="$$failed mypy"; \
	if [ -n "$$failed" ]; then echo "make lint: failed:$$failed (see above)"; exit 1; fi

# make bench ARGS="sealed --parts=3C --rounds=2": one section, one part (bench/__main__.py)
bench: $(STAMP)
	$(PY) -m bench $(ARGS)

stress: $(STAMP)
	$(PY) -m tools.stress '$(T)' -n $(N) -p $(or $(P),2)

# make explore T=InitialElection N=1000 P=2: one test simulated over seeds 1..N (tools/explore.py)
explore: $(STAMP)
	$(PY) -m tools.explore '$(T)' -n $(N) -p $(or $(P),2) $(ARGS)

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

# Course staff: grade a folder of submissions with the pristine handout (grade/).
# make grade SUBMISSIONS=dir [PARTS="3A 3B"] [RUNS=3] [P=2] [UNSANDBOXED=1] [ROSTER=roster.csv] [BUDGET=minutes]
# [SEALED=0]; results in grades/<date-time>/.  BUDGET: a submission's runs in all (default: from PARTS
# and RUNS).  Runs are sealed (each Raft peer its own sandboxed process, the test process outside it)
# unless SEALED=0: then the Raft runs in the test process, the whole run in the sandbox.
SUBMISSIONS ?=
PARTS ?=
RUNS ?= 3
ROSTER ?=
BUDGET ?=
grade: handout
	@test -n "$(SUBMISSIONS)" || { echo "make grade: give the folder of submissions, e.g. make grade SUBMISSIONS=~/project3-submissions"; exit 2; }
	$(PY) -m grade '$(SUBMISSIONS)' --runs $(RUNS) $(if $(PARTS),--parts $(PARTS)) $(if $(P),-p $(P)) \
		$(if $(ROSTER),--roster '$(ROSTER)') $(if $(BUDGET),--budget $(BUDGET)) \
		$(if $(filter 1,$(UNSANDBOXED)),--unsandboxed) $(if $(filter 0,$(SEALED)),--in-process)

# The grader's figures: COPIES copies of the reference graded at the default P; COMPARE=K
# grades them K times sandboxed and K times not, by turns, and prints the ratio; COMPARE_SEALED=K
# grades them K times sealed and K times in-process, by turns.  SEALED=0: in-process gradings.
COPIES ?= 20
bench-grade: handout
	$(PY) -m bench.grading --copies $(COPIES) --runs $(RUNS) --parts $(or $(PARTS),3A) $(if $(P),-p $(P)) \
		$(if $(COMPARE),--compare $(COMPARE)) $(if $(COMPARE_SEALED),--compare-sealed $(COMPARE_SEALED)) \
		$(if $(filter 0,$(SEALED)),--in-process)

# dist/autograder.zip for Gradescope (grade/gradescope.py); PARTS, RUNS and SEALED=0 as for grade.
autograder: handout
	$(PY) -m grade.gradescope build --runs $(RUNS) $(if $(PARTS),--parts $(PARTS)) \
		$(if $(filter 1,$(CHANGED)),--allow-changed) $(if $(filter 0,$(SEALED)),--in-process)

clean:
	rm -rf $(VENV) *.egg-info dist
