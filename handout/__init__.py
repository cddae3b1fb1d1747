"""The student handout: what a course gives its students, built from this repository.

    make handout        python -m handout       dist/project3/ and dist/project3.tar.gz

markers.py turns the reference raft/raft.py into the skeleton; build.py lays
out the handout; submit.py is the handout's `make submit` (it ships there as
tools/submit.py); files/ holds the handout's own Makefile and README.
"""
