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
import time


def _idle_ticks() -> dict[int, int]:
    """Idle time so far of each CPU, from /proc/stat; empty where there is none."""
    ticks = {}
    try:
        with open("/proc/stat") as f:
            for line in f:
                name, *fields = line.split()
                if name.startswith("cpu") and name[3:].isdigit():
                    ticks[int(name[3:])] = int(fields[3]) + int(fields[4])
    except (OSError, ValueError, IndexError):
        return {}
    return ticks


def _idlest(cpus: list[int]) -> int:
    """The CPU that was idle longest over a short look, so two test runs at once
    end up on different CPUs; ties go by process id."""
    before = _idle_ticks()
    time.sleep(0.05)
    after = _idle_ticks()
    rotated = cpus[os.getpid() % len(cpus) :] + cpus[: os.getpid() % len(cpus)]
    return max(rotated, key=lambda c: after.get(c, 0) - before.get(c, 0))


def pin_to_one_cpu() -> str:
    """Pin this process's future threads to one CPU; say which."""
    if os.environ.get("RAFTLAB_CPUS") == "all" or not hasattr(os, "sched_setaffinity"):
        return "all CPUs"
    cpu = _idlest(sorted(os.sched_getaffinity(0)))
    os.sched_setaffinity(0, {cpu})
    if hasattr(os, "SCHED_BATCH"):
        try:
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        except OSError:
            pass
    return f"CPU {cpu}"
