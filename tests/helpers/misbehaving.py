"""Calculators that misbehave on purpose, loaded by worker processes as ``misbehaving:NAME``
(tests put this folder on PYTHONPATH): EMT except on marked structures."""

from __future__ import annotations

import os
import signal
import sys
import time

from ase.calculators.emt import EMT


class _Marked(EMT):
    """EMT, but ``act()`` on structures with exactly ``n`` atoms."""

    n = 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        print("noise on stdout from a library", flush=True)  # must not break the protocol
        sys.stdout.write("{not json\n")
        if atoms is not None and len(atoms) == self.n:
            self.act()
        super().calculate(atoms, properties, system_changes)


class _Segfault(_Marked):
    n = 2

    def act(self):
        os.kill(os.getpid(), signal.SIGSEGV)


class _Hang(_Marked):
    n = 3

    def act(self):
        time.sleep(3600)


class _Slow(EMT):
    """EMT that takes 0.05 s per structure: a model whose batched call grows with the batch."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        time.sleep(0.05)
        super().calculate(atoms, properties, system_changes)


def slow():
    return _Slow()


def segfault_on_two():
    return _Segfault()


def hang_on_three():
    return _Hang()


def broken_at_load():
    raise RuntimeError("cannot load this model")


class _HangBlockingAlarm(_Marked):
    """Hangs where no signal handler can run (SIGALRM blocked, as in native code that never
    returns to the interpreter): only killing the process stops it."""

    n = 3

    def act(self):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)


def hang_blocking_alarm_on_three():
    return _HangBlockingAlarm()


class _Sleeper(EMT):
    """EMT that sleeps an hour on any structure with 3 or more atoms... only 1-atom cells finish."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        if atoms is not None and len(atoms) >= 3:
            time.sleep(3600)
        super().calculate(atoms, properties, system_changes)


def sleeps_on_big_cells():
    return _Sleeper()


sleeps_on_big_cells.elements = ["Al", "Cu"]
