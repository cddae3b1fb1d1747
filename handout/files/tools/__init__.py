"""Tools for the lab; run from the handout's root:

    python -m tools.stress    repeat tests in parallel, keep each failing run   (make stress)
    python -m tools.dslogs    pretty-print a debug log, one column per peer
    python -m tools.submit    check and pack your submission                    (make submit)
"""
