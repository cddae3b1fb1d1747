"""The tester's simulation of threads and time (issue 22): plain threaded Python code,
unchanged, run in virtual time under a scheduler that a seed fully determines.

    from harness import sim

    with sim.World(seed) as world:           # installs the simulation (see below)
        result = world.run(fn, *args)        # fn is the simulated main thread
        world.now()                          # virtual seconds since the World began
        world.digest()                       # hex SHA-256 of the run's trace
        world.decisions                      # how many scheduling decisions were taken
        world.record("applied 3 x")          # feed an event of your own into the digest

The rules:

* One simulated thread runs at a time, all of them greenlets in the OS thread that
  called run(). Control passes only where a thread blocks or waits: a contended
  Lock/RLock acquire, Condition.wait, Event.wait, a Semaphore that waits, a
  queue.Queue/SimpleQueue get or put that waits, Thread.join, time.sleep (sleep(0)
  too: every sleep lasts at least 1 us of virtual time, so a loop that only yields
  still lets the clock move). Which runnable thread goes next is drawn from a PRNG
  seeded from the seed. World(seed, preempt=p) also preempts the running thread at
  every lock acquire and release with probability p (PCT-style), so that rare
  interleavings come up. A lock released while threads wait for it is handed to one
  of them (drawn likewise); the releasing thread runs on.
* Virtual time: CPU time costs none. When no thread can run, the clock jumps to the
  earliest timer (a sleep, or the timeout of a wait, get, put, join or acquire).
  time.time/monotonic/perf_counter and their _ns variants read the virtual clock,
  which starts at fixed values (monotonic and perf_counter at 100000 s, time() at
  2026-01-01 UTC), so that a run prints the same figures whenever it runs.
* Randomness: while run() runs, the global `random` is seeded from the seed (its
  state is restored afterwards), and `random.Random()` made without a seed is seeded
  from the World's seed too, in the order the threads make them.
* Determinism: the digest hashes every scheduling decision, every clock jump and every
  record(). The same seed, code and inputs give the same digest (for runs in separate
  processes, also the same PYTHONHASHSEED: the order of a set of strings can change
  what the code does).
* The end: when fn returns, run() goes on until every non-daemon thread has ended (as
  the interpreter does at exit; at most exit_limit virtual seconds more, then it
  raises SimError naming them). The daemon threads still alive are then ended: SimExit
  (a SystemExit, which threading.excepthook ignores) is raised where each waits, so
  their finally blocks run inside the simulation, and any wait they start raises it
  again. If fn raises, every thread is ended so and run() raises fn's exception.
* An uncaught exception in a simulated threading.Thread goes to threading.excepthook,
  as in a real thread.

What it catches, each raised by run() at once (every thread is then ended):

* DeadlockError: every thread is blocked and no timer is pending. The message is the
  wait-for graph: each thread, what it waits for (the lock, with the line that made it
  and the thread holding it, and where that thread acquired it; a Condition/Event/
  Queue wait; a join), and the file:line of its stack top; then every lock held.
  The same error for a cycle of threads each waiting, with no timeout, for a lock the
  next one holds (a thread taking a Lock it holds is a cycle of one), once the cycle
  has stood 1 virtual s (CYCLE_GRACE_NS; a plain Lock may be released by another
  thread, Go-style): other threads may still run and keep timers pending, as a Raft's
  other peers do while one peer's threads are deadlocked on its rf.mu.
* BusyLoopError: a thread ran busy_limit (2) s of real time without reaching a switch
  point; the message has its stack and the rule: every loop must sleep or wait. (A
  periodic SIGALRM checks: main thread only. pytest-timeout's own alarm is kept: it
  still fires at its deadline, in the scheduler.)
  The same error, as a LIVELOCK, when the virtual clock stands still for twice that
  although threads keep switching (a loop that only polls, or threads that hand work
  to each other for ever): nothing would ever let time move.
* UnsupportedPrimitive: a socket, select, an asyncio event loop, subprocess,
  multiprocessing, os.fork/system/posix_spawn, called from simulated code: the message
  names it and says to run without SIM.
* SimTimeLimit: the virtual clock passed World(time_limit=...) seconds.

World.interrupt(thread, exc) raises exc in a simulated thread at the wait it is in
(a hang watchdog in virtual time can free the test's thread so). World.threads()
describes every live thread as the deadlock report does.

How it is installed (harness/sim/patches.py): while the World is installed, the
attributes of the real modules are replaced and then restored exactly: `_thread`'s
start_new_thread, allocate_lock, get_ident, get_native_id, RLock; threading's
_start_new_thread, _allocate_lock, Lock, RLock, _set_sentinel, get_ident,
get_native_id, _time and local; queue's time and SimpleQueue (the pure-Python one);
time's time, monotonic, perf_counter (and _ns), sleep; sys._current_frames (which
lists the simulated threads' frames too); random.Random.seed. threading's classes
themselves are kept, built on those, so Thread subclasses made before the install run
simulated. Each replacement is the real function when called from another OS thread,
so pytest, pytest-timeout and any real thread go on in real time.

Limits: what was bound before the install keeps the real thing: `from time import
monotonic` or `from threading import Lock` at import, a lock or SimpleQueue or
threading.local made at import (such a lock is fine while nobody waits for it; one held
across a switch point blocks the OS thread, which the busy-loop watchdog reports).
datetime.now() and time.localtime() with no argument read the real clock. A C
extension that blocks blocks every simulated thread.
"""

from harness.sim.errors import (
    BusyLoopError,
    DeadlockError,
    SimError,
    SimExit,
    SimTimeLimit,
    UnsupportedPrimitive,
)
from harness.sim.world import SimLock, World, current_world

__all__ = [
    "BusyLoopError",
    "DeadlockError",
    "SimError",
    "SimExit",
    "SimLock",
    "SimTimeLimit",
    "UnsupportedPrimitive",
    "World",
    "current_world",
]
