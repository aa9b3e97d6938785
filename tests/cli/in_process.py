"""Running the ``l4sim`` command in this process, as a user would run it in a shell.

Much faster than a subprocess per case; what it checks is the same: the exit
status, what reaches stdout and stderr, and (an exception escaping
``main`` fails the test) that no mistake ends in a traceback. A few tests
still run the real command in a subprocess.
"""

import contextlib
import io
import os
from dataclasses import dataclass


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def l4sim(*args, cwd) -> Completed:
    """``l4sim ARGS`` run in folder ``cwd``."""
    from l4sim.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(arg) for arg in args])
            except SystemExit as stop:  # argparse's own usage errors
                code = stop.code
    finally:
        os.chdir(here)
    return Completed(code, out.getvalue(), err.getvalue())
