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
