"""The one table from what went wrong to the process's exit code."""
from __future__ import annotations

import signal

from ..core.errors import BAD_INPUT, SplError
from ..engine.checkpoint import Interrupted, StateError
from ..engine.parallel import WorkerDied
from ..io.jsonl import TooManyBadLines

EXIT_OK = 0
EXIT_SEARCH_ERROR = 1  # the search does not parse or plan; a diagnostic was printed
EXIT_USAGE = 2  # bad command-line arguments (argparse's own code)
EXIT_INPUT_ERROR = 3  # an input file is missing or unreadable, or output cannot be written
EXIT_INTERNAL = 4  # a bug in spl-lite: the message asks for a report
EXIT_TOO_MANY_BAD = 5  # --max-bad N: more than N input lines were bad; the run stopped after the last one
EXIT_STATE = 6  # --state: the saved state belongs to other searches, is of another version, or is damaged
EXIT_WORKER_DIED = 7  # a --workers process was killed (out of memory?) or crashed
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C); with --state the state was saved first
EXIT_TERMINATED = 143  # SIGTERM; with --state the state was saved first


def exit_code_for(error: BaseException) -> int:
    """The exit code of a run that ended with `error`; EXIT_INTERNAL for anything unforeseen."""
    if isinstance(error, SplError):
        return EXIT_INPUT_ERROR if error.code == BAD_INPUT else EXIT_SEARCH_ERROR
    if isinstance(error, TooManyBadLines):
        return EXIT_TOO_MANY_BAD
    if isinstance(error, StateError):
        return EXIT_STATE
    if isinstance(error, WorkerDied):
        return EXIT_WORKER_DIED
    if isinstance(error, Interrupted) and error.signum == signal.SIGTERM:
        return EXIT_TERMINATED
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_INTERNAL


# Runs that stop for these keep what whole batches did: the state is saved before exiting.
SAVED_ON_EXIT = (EXIT_TOO_MANY_BAD, EXIT_INPUT_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED)
