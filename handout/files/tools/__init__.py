"""Tools for the lab; run from the handout's root:

    .venv/bin/python -m tools.stress   repeat tests in parallel, keep failing runs (make stress)
    .venv/bin/python -m tools.dslogs   pretty-print a debug log, one column per peer
    .venv/bin/python -m tools.submit   check and pack your submission              (make submit)
"""
