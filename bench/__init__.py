"""raftlab's benchmarks: `make bench` (python -m bench). Figures, not pass/fail tests."""
