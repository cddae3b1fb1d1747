"""Runs first, outside the sandbox, in every grading child: join the run's cgroup,
then exec the sandbox (bwrap) with the run inside it.

    python -S enter.py [--cgroup PROCS_FILE ...] -- COMMAND...

Joining here, before anything of the run exists, puts every process the run will
ever start in the cgroup: the parent moving the child in after it started would
race with the child's first fork.
"""

import os
import sys


def main() -> None:
    args = sys.argv[1:]
    procs = []
    while args and args[0] == "--cgroup":
        procs.append(args[1])
        args = args[2:]
    if not args or args[0] != "--" or len(args) < 2:
        sys.exit("enter.py: usage: enter.py [--cgroup PROCS_FILE ...] -- COMMAND...")
    for path in procs:
        with open(path, "w") as f:
            f.write(str(os.getpid()))
    os.execv(args[1], args[1:])


main()
