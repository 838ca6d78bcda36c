"""Tying child processes' lives to their parent's: a child started with ``die_with_parent()`` as its
``preexec_fn`` gets SIGTERM from the kernel when the parent dies, even by SIGKILL or the OOM killer."""

from __future__ import annotations

import ctypes
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent() -> Callable[[], None] | None:
    """A preexec hook asking for SIGTERM on the parent's death; None where Linux's prctl is unavailable.

    The kernel sends it when the *thread* that forked exits, so call Popen from a long-lived thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork: nothing to load in the child

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook
