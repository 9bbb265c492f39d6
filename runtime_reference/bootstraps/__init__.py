"""The reference custom runtimes: what learners build, written out in full by the instructor.

Each folder is a complete task root (``LAMBDA_TASK_ROOT``): an executable ``bootstrap`` plus an example
function that echoes its event.

- ``PYTHON_DIR``: ``bootstrap`` in Python (standard library only) and ``function.py``
  (handler ``function.handler``).
- ``BASH_DIR``: ``bootstrap`` in bash + curl, in the style of the AWS "Building a custom runtime"
  tutorial, and ``function.sh`` (handler ``function.handler``).

Use them as the task root of the emulator::

    from runtime_reference import Emulator
    from runtime_reference.bootstraps import PYTHON_DIR

    with Emulator(PYTHON_DIR, handler="function.handler") as emu:
        print(emu.invoke({"hello": "world"}).json())
"""

from pathlib import Path

__all__ = ["BASH_DIR", "BOOTSTRAPS_DIR", "PYTHON_DIR"]

BOOTSTRAPS_DIR = Path(__file__).resolve().parent
PYTHON_DIR = BOOTSTRAPS_DIR / "python"
BASH_DIR = BOOTSTRAPS_DIR / "bash"
