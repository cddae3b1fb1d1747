"""Runs first in every grading child (inside the sandbox, when there is one): set
its resource limits, drop to an unprivileged uid, then exec the run.

    python -S launch.py AS_BYTES FSIZE_BYTES [--user UID] [--nproc N] -- python -S -m pytest ...

The limits are set here, in the child itself, rather than by the parent through
subprocess's preexec_fn, which is unsafe while the grader's threads run. --user
is given when the grader runs as root: the student's code then runs as UID (its
groups dropped), which the sandbox gives only CAP_SETUID and CAP_SETGID to
reach, and which keeps none once there.
"""

import os
import resource
import sys


def main() -> None:
    memory, file_size, *rest = sys.argv[1:]
    user = nproc = None
    while rest and rest[0] in ("--user", "--nproc"):
        if rest[0] == "--user":
            user = int(rest[1])
        else:
            nproc = int(rest[1])
        rest = rest[2:]
    if not rest or rest[0] != "--" or len(rest) < 2:
        sys.exit(
            "launch.py: usage: launch.py AS_BYTES FSIZE_BYTES [--user UID] [--nproc N] "
            "-- COMMAND..."
        )
    command = rest[1:]
    resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(file_size), int(file_size)))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if nproc is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    if user is not None:
        os.setgroups([])
        os.setgid(user)
        os.setuid(user)
        if os.getuid() != user or os.geteuid() != user:
            sys.exit(f"launch.py: could not drop to uid {user}")
    os.execv(command[0], command)


main()
