"""Developer tools for raftlab, not needed at run time (extra "tools"); run from the repo root:

    .venv/bin/python -m tools.stress    repeat tests in parallel, keep each failing run
    .venv/bin/python -m tools.dslogs    pretty-print a debug log, one column per peer
    .venv/bin/python -m tools.browser   check a timeline page in headless Chromium
"""
