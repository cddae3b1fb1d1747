"""Developer tools for raftlab, not needed at run time (extra "tools"); run from the repo root:

    python -m tools.stress    repeat tests in parallel, keep each failing run
    python -m tools.dslogs    pretty-print a debug log, one column per peer
    python -m tools.browser   check a timeline page in headless Chromium
"""
