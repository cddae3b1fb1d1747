"""Runs first in every grading child: set its resource limits, then exec the run.

    python -S launch.py AS_BYTES FSIZE_BYTES -- python -S -m pytest ...

The limits are set here, in the child itself, rather than by the parent through
subprocess's preexec_fn, which is unsafe while the grader's threads run.
"""

import os
import resource
import sys


def main() -> None:
    memory, file_size, sep, *command = sys.argv[1:]
    if sep != "--" or not command:
        sys.exit("launch.py: usage: launch.py AS_BYTES FSIZE_BYTES -- COMMAND...")
    resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(file_size), int(file_size)))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.execv(command[0], command)


main()
