"""Run a labrpc process on one CPU, as a batch task.

Every RPC hands work from the caller's thread to a handler thread and back.
With the GIL only one of them runs at a time, so a second core buys little,
while waking a thread parked on another core costs several times a
same-core switch on a VM; and under the default policy each wake-up also
preempts the waker just before it would block anyway.  One CPU and
SCHED_BATCH roughly halve the cost of a call.  The tester and the
benchmarks call this; RAFTLAB_CPUS=all opts out.
"""

from __future__ import annotations

import os


def pin_to_one_cpu() -> str:
    """Pin this process's future threads to one CPU; say which."""
    if os.environ.get("RAFTLAB_CPUS") == "all" or not hasattr(os, "sched_setaffinity"):
        return "all CPUs"
    cpus = sorted(os.sched_getaffinity(0))
    cpu = cpus[os.getpid() % len(cpus)]
    os.sched_setaffinity(0, {cpu})
    if hasattr(os, "SCHED_BATCH"):
        try:
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        except OSError:
            pass
    return f"CPU {cpu}"
