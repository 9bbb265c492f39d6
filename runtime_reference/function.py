"""A function: its configuration, a pool of execution environments, and the queue of invokes waiting for one.

Invokes beyond the free environments wait in a FIFO queue; up to ``max_environments`` environments start as
needed, like the service scaling out. Each environment serves one invocation at a time.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from .config import FunctionConfig
from .environment import Environment
from .invocation import Invocation, InvokeResult
from .logs import LogStream


def encode_event(event: Any) -> bytes:
    """Bytes go as they are; anything else is JSON-encoded (as the AWS SDKs do for a dict)."""
    if isinstance(event, (bytes, bytearray, memoryview)):
        return bytes(event)
    return json.dumps(event).encode()


class Function:
    """Runs on the emulator's event loop; the Emulator class is the thread-safe front."""

    def __init__(self, config: FunctionConfig, log_stream: LogStream, max_environments: int = 1):
        if max_environments < 1:
            raise ValueError("max_environments must be at least 1")
        self.config = config
        self.log_stream = log_stream
        self.max_environments = max_environments
        self.environments: list[Environment] = []
        self.queue: asyncio.Queue[Invocation] = asyncio.Queue()
        self._workers: list[asyncio.Task] = []
        self._idle = 0
        self._inflight: set[Invocation] = set()

    async def start(self) -> None:
        await self._add_environment()

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        await asyncio.gather(*(env.close() for env in self.environments), return_exceptions=True)
        for inv in list(self._inflight):
            inv.abort("The emulator stopped before this invocation finished.")

    async def _add_environment(self) -> Environment:
        env = Environment(self.config, self.log_stream)
        self.environments.append(env)  # counted before the await, so concurrent submits can't overshoot
        await env.start()
        self._workers.append(asyncio.ensure_future(self._serve(env)))
        return env

    async def _serve(self, env: Environment) -> None:
        while True:
            self._idle += 1
            inv = await self.queue.get()
            self._idle -= 1
            try:
                await env.run(inv)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an emulator bug must fail one invocation, never the service
                inv.abort(f"Emulator error: {exc!r}")
                await env.kill()

    def new_invocation(self, event: Any, *, qualifier: str | None = None, client_context: str | None = None,
                       cognito_identity: str | None = None, trace_id: str | None = None,
                       tenant_id: str | None = None) -> Invocation:
        return Invocation(encode_event(event), function_arn=self.config.arn(qualifier), timeout=self.config.timeout,
                          client_context=client_context, cognito_identity=cognito_identity, trace_id=trace_id,
                          tenant_id=tenant_id)

    async def submit(self, inv: Invocation) -> Invocation:
        """Queue an invocation; start another environment when none is free and the limit allows."""
        self._inflight.add(inv)
        inv.finished.add_done_callback(lambda _: self._inflight.discard(inv))
        self.queue.put_nowait(inv)
        if self._idle < self.queue.qsize() and len(self.environments) < self.max_environments:
            await self._add_environment()
        return inv

    async def invoke(self, inv: Invocation) -> InvokeResult:
        await self.submit(inv)
        return await asyncio.shield(inv.finished)
