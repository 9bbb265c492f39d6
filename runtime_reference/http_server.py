"""A small asyncio HTTP/1.1 server; httptools (llhttp, Node.js's parser) does all the parsing.

Why not a framework: the Runtime API needs request *trailers* (response streaming reports a mid-stream error in
trailers), chunked request bodies read incrementally, keep-alive, `Expect: 100-continue` (curl sends it for larger
bodies), and long-polls that notice a client hanging up. llhttp reports all of that; this module only moves bytes
between an asyncio transport and the parser, and writes responses.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

import httptools

PAUSE_ABOVE = 1024 * 1024  # stop reading from a client while this much request body waits to be consumed


class BodyTruncated(Exception):
    """The client closed the connection before the request body was complete."""


class Headers:
    """Case-insensitive view of header pairs (first value wins on lookup)."""

    def __init__(self, pairs: list[tuple[str, str]] | None = None):
        self.pairs = pairs if pairs is not None else []
        self._lower: dict[str, str] = {}
        for name, value in self.pairs:
            self._lower.setdefault(name.lower(), value)

    def add(self, name: str, value: str) -> None:
        self.pairs.append((name, value))
        self._lower.setdefault(name.lower(), value)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._lower.get(name.lower(), default)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._lower



@dataclass
class Response:
    """A complete response. ``body`` may be bytes, or an async iterator of chunks (sent chunked)."""

    status: int
    body: bytes | AsyncIterator[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    trailers: Callable[[], dict[str, str]] | None = None  # called after a streamed body ends

    @classmethod
    def json(cls, status: int, obj: object, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(obj).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})


class Request:
    """One request; the body is read on demand (``read`` or ``iter_body``)."""

    def __init__(self, conn: _Connection, method: str, target: str, headers: Headers):
        self._conn = conn
        self.method = method
        self.target = target
        if "?" in target:
            parts = urlsplit(target)
            self.path, self.query = parts.path, dict(parse_qsl(parts.query))
        else:
            self.path, self.query = target, {}
        self.headers = headers
        self.trailers = Headers()
        self.body_complete = False
        self.keep_alive = True
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._wakeup: asyncio.Future | None = None

    # -- fed by the connection -----------------------------------------------------------------------------------
    def _feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered > PAUSE_ABOVE:
            self._conn.pause()
        self._wake()

    def _complete(self) -> None:
        self.body_complete = True
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    # -- used by handlers ----------------------------------------------------------------------------------------
    async def iter_body(self) -> AsyncIterator[bytes]:
        """Yield body chunks as they arrive; raises BodyTruncated when the client hangs up mid-body."""
        while True:
            while self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._buffered <= PAUSE_ABOVE:
                    self._conn.resume()
                yield chunk
            if self.body_complete:
                return
            if self._conn.closed:
                raise BodyTruncated()
            self._wakeup = asyncio.get_running_loop().create_future()
            await self._wakeup

    async def read(self) -> bytes:
        if self.body_complete and len(self._chunks) <= 1:
            chunk = self._chunks.popleft() if self._chunks else b""
            self._buffered = 0
            self._conn.resume()
            return chunk
        return b"".join([chunk async for chunk in self.iter_body()])

    @property
    def disconnected(self) -> asyncio.Future:
        """Done when the client closes its connection (for long-polls)."""
        return self._conn.closed_future


Handler = Callable[[Request], Awaitable[Response]]


class _Connection(asyncio.Protocol):
    """One client connection: parser callbacks build requests; one task answers them in order."""

    def __init__(self, handler: Handler, connections: set[_Connection]):
        self.handler = handler
        self.connections = connections
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.closed_future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.pending: deque[Request] = deque()
        self._arrived: asyncio.Future | None = None
        self._runner: asyncio.Task | None = None
        self._current: Request | None = None
        self._url = b""
        self._headers: Headers | None = None
        self._paused = False
        self._can_write: asyncio.Future | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connections.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._bad_request("Protocol upgrades are not supported.")
        except httptools.HttpParserError as exc:
            self._bad_request(f"Malformed HTTP request: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.connections.discard(self)
        if not self.closed_future.done():
            self.closed_future.set_result(None)
        if self._current is not None:
            self._current._wake()
        self._notify_arrival()
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_result(None)

    def pause_writing(self) -> None:
        self._can_write = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_result(None)

    # -- parser callbacks ----------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = Headers()
        self._current = None

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        pair = (name.decode("latin-1"), value.decode("latin-1"))
        if self._current is not None:  # after the headers: a trailer of a chunked body
            self._current.trailers.add(*pair)
        elif self._headers is not None:
            self._headers.add(*pair)

    def on_headers_complete(self) -> None:
        method = self.parser.get_method().decode("ascii", "replace")
        request = Request(self, method, self._url.decode("latin-1"), self._headers or Headers())
        self._current = request
        if (request.headers.get("Expect") or "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.pending.append(request)
        if self._runner is None:
            self._runner = asyncio.ensure_future(self._run())
        self._notify_arrival()

    def on_body(self, body: bytes) -> None:
        if self._current is not None:
            self._current._feed(body)

    def on_message_complete(self) -> None:
        if self._current is not None:
            self._current.keep_alive = self.parser.should_keep_alive()
            self._current._complete()

    # -- answering -----------------------------------------------------------------------------------------------
    def _notify_arrival(self) -> None:
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)

    def pause(self) -> None:
        if not self._paused and self.transport is not None and not self.closed:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self.transport.resume_reading()

    async def _run(self) -> None:
        try:
            while not self.closed:
                if not self.pending:
                    self._arrived = asyncio.get_running_loop().create_future()
                    await self._arrived
                    continue
                request = self.pending.popleft()
                try:
                    response = await self.handler(request)
                except BodyTruncated:
                    break
                await self._send(response)
                try:
                    async for _ in request.iter_body():  # drain what the handler did not read
                        pass
                except BodyTruncated:
                    break
                if not request.keep_alive:
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if self.transport is not None:
                self.transport.close()

    async def _write(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            raise ConnectionResetError("client went away")
        self.transport.write(data)
        if self._can_write is not None and not self._can_write.done():
            await self._can_write

    async def _send(self, response: Response) -> None:
        head = [f"HTTP/1.1 {response.status} {_reason(response.status)}"]
        head += [f"{name}: {value}" for name, value in response.headers.items()]
        if isinstance(response.body, bytes):
            head.append(f"Content-Length: {len(response.body)}")
            await self._write("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + response.body)
            return
        head.append("Transfer-Encoding: chunked")
        if response.trailers is not None:
            head.append("Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
        await self._write("\r\n".join(head).encode("latin-1") + b"\r\n\r\n")
        async for chunk in response.body:
            if chunk:
                await self._write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        trailers = response.trailers() if response.trailers else {}
        tail = "".join(f"{name}: {value}\r\n" for name, value in trailers.items())
        await self._write(b"0\r\n" + tail.encode("latin-1") + b"\r\n")

    def _bad_request(self, message: str) -> None:
        if self.transport is None or self.closed:
            return
        body = json.dumps({"errorMessage": message, "errorType": "BadRequest"}).encode()
        self.transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.transport.close()


_REASONS = {status.value: status.phrase for status in HTTPStatus}


def _reason(status: int) -> str:
    return _REASONS.get(status, "Unknown")


class Server:
    """An HTTP server on 127.0.0.1 (loopback only: the emulator is never reachable from the network)."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self.handler, self._connections), host, port)
        return self.port

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        runners = []
        for conn in list(self._connections):
            if conn.transport is not None:
                conn.transport.close()
            if conn._runner is not None:
                conn._runner.cancel()
                runners.append(conn._runner)
        await asyncio.gather(*runners, return_exceptions=True)
        self._server = None
