"""A local, faithful emulator of AWS Lambda's Runtime API, made for teaching custom runtimes.

    from runtime_reference import Emulator
    with Emulator("my_function/") as emu:
        result = emu.invoke({"name": "World"})
"""

from .emulator import Emulator, PendingInvoke
from .invocation import InvokeResult
from .trace import Trace, TraceRecord

__all__ = ["Emulator", "InvokeResult", "PendingInvoke", "Trace", "TraceRecord"]
