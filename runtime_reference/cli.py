"""The command line: `python -m runtime_reference serve|invoke ...`."""

from __future__ import annotations

import argparse
import base64
import json
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from .config import ConfigError
from .emulator import Emulator
from .packaging import PackageError

DESCRIPTION = """\
A local AWS Lambda for custom runtimes: it starts your `bootstrap` the way Lambda does and serves the
Runtime API to it, plus the Lambda Invoke API for you (curl, boto3). Everything listens on 127.0.0.1 only.

  serve   run a function until Ctrl-C and print the URL to invoke it
  invoke  send one event (to a running `serve` with --url, or to a function started just for this)
"""

EXAMPLES = """\
examples:
  python -m runtime_reference serve my_function/ --port 9000
  curl -XPOST "http://127.0.0.1:9000/2015-03-31/functions/function/invocations" -d '{"name": "World"}'

  python -m runtime_reference invoke my_function/ --event '{"name": "World"}'
  python -m runtime_reference invoke --url http://127.0.0.1:9000 --event '{"name": "World"}'
  python -m runtime_reference serve --runtime-only --port 9000   # you play the runtime (e.g. with curl)
"""


def _function_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("task_root", nargs="?" if not required else None, metavar="TASK_ROOT_OR_ZIP",
                        help="the function package: a directory or a .zip with `bootstrap` at its top")
    parser.add_argument("--layer", action="append", default=[], metavar="DIR_OR_ZIP",
                        help="a layer, extracted into the emulator's /opt (repeat, in order; later ones win)")
    parser.add_argument("--handler", default="function.handler", help="the _HANDLER value (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds, 1 to 900 (default: 3)")
    parser.add_argument("--memory", type=int, default=128, metavar="MB", help="128 to 10240 (default: 128)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="a function environment variable (repeat)")
    parser.add_argument("--function-name", default="function", help="(default: %(default)s)")
    parser.add_argument("--max-environments", type=int, default=1, metavar="N",
                        help="execution environments to scale out to under concurrent invokes (default: 1)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m runtime_reference", description=DESCRIPTION,
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{serve,invoke}")
    serve = commands.add_parser("serve", help="run a function until Ctrl-C", epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _function_options(serve, required=False)
    serve.add_argument("--port", type=int, default=0, help="port of the Invoke API (default: a free one)")
    serve.add_argument("--quiet", action="store_true", help="don't print the function's log lines")
    serve.add_argument("--runtime-only", action="store_true",
                       help="start no bootstrap: run your own runtime against the printed Runtime API address")
    invoke = commands.add_parser("invoke", help="send one event and print the result and the log tail",
                                 epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _function_options(invoke, required=False)
    invoke.add_argument("--url", help="a running `serve` (its base URL or full invoke URL) instead of TASK_ROOT")
    invoke.add_argument("--event", default="{}", help="the event as JSON, or @FILE, or - for stdin "
                                                      "(default: {})")
    return parser


def _parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env expects KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def _emulator(args: argparse.Namespace, **extra: object) -> Emulator:
    return Emulator(args.task_root, layers=args.layer, handler=args.handler, timeout=args.timeout,
                    memory_mb=args.memory, env=_parse_env(args.env), function_name=args.function_name,
                    max_environments=args.max_environments, **extra)


def serve(args: argparse.Namespace) -> int:
    if not args.task_root and not args.runtime_only:
        raise SystemExit("serve: give TASK_ROOT_OR_ZIP (a directory or .zip with a bootstrap), "
                         "or --runtime-only to be the runtime yourself.")
    emu = _emulator(args, invoke_port=args.port, runtime_only=args.runtime_only,
                    log_sink=None if args.quiet else lambda line: print(line, flush=True))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with emu:
        print(f"Invoke URL:  {emu.invoke_url}", flush=True)
        print(f"Runtime API: {emu.runtime_api}   (AWS_LAMBDA_RUNTIME_API for the runtime)", flush=True)
        print(f"Try: curl -XPOST \"{emu.invoke_url}\" -d '{{}}'", flush=True)
        print("Ctrl-C stops.", flush=True)
        stop.wait()
    return 0


def _read_event(spec: str) -> bytes:
    if spec == "-":
        return sys.stdin.buffer.read()
    if spec.startswith("@"):
        return Path(spec[1:]).read_bytes()
    return spec.encode()


def invoke(args: argparse.Namespace) -> int:
    event = _read_event(args.event)
    try:
        json.loads(event or b"{}")
    except ValueError:
        raise SystemExit(f"--event is not valid JSON: {event[:200]!r}") from None
    if args.url:
        return _invoke_url(args.url, event)
    if not args.task_root:
        raise SystemExit("invoke: give TASK_ROOT_OR_ZIP, or --url of a running `serve`.")
    with _emulator(args) as emu:
        result = emu.invoke(event)
    sys.stdout.write(result.payload.decode("utf-8", "replace") + "\n")
    sys.stderr.write("--- log tail ---\n" + result.log_tail)
    return 0 if result.ok else 1


def _invoke_url(url: str, event: bytes) -> int:
    if "/2015-03-31/" not in url:
        url = url.rstrip("/") + "/2015-03-31/functions/function/invocations"
    request = urllib.request.Request(url, data=event, method="POST", headers={"X-Amz-Log-Type": "Tail"})
    try:
        with urllib.request.urlopen(request, timeout=960) as response:
            payload, headers = response.read(), response.headers
    except urllib.error.HTTPError as exc:
        sys.stderr.write(f"{exc.code} {exc.reason}: {exc.read().decode('utf-8', 'replace')}\n")
        return 2
    except urllib.error.URLError as exc:
        sys.stderr.write(f"Can't reach {url}: {exc.reason}. Is `python -m runtime_reference serve` running?\n")
        return 2
    sys.stdout.write(payload.decode("utf-8", "replace") + "\n")
    tail = headers.get("X-Amz-Log-Result")
    if tail:
        sys.stderr.write("--- log tail ---\n" + base64.b64decode(tail).decode("utf-8", "replace"))
    return 1 if headers.get("X-Amz-Function-Error") else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return serve(args) if args.command == "serve" else invoke(args)
    except (ConfigError, PackageError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
