"""A function's configuration and the environment variables the service gives its runtime process."""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ACCOUNT_ID = "123456789012"
MIN_TIMEOUT, MAX_TIMEOUT = 1.0, 900.0
MIN_MEMORY, MAX_MEMORY = 128, 10_240
MAX_CUSTOM_ENV_BYTES = 4096
INIT_TIMEOUT = 10.0  # the on-demand init phase may take up to 10 s

# Keys the service sets itself; Lambda refuses them as function environment variables.
RESERVED_ENV = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})

# Fake credentials: code in the function can never reach real AWS with them.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "emulator-session-token",
}


class ConfigError(ValueError):
    """A configuration the Lambda service would refuse."""


@dataclass
class FunctionConfig:
    task_root: Path
    opt: Path
    runtime_dir: Path
    handler: str = "function.handler"
    timeout: float = 3.0
    memory_mb: int = 128
    env: dict[str, str] = field(default_factory=dict)
    function_name: str = "function"
    region: str = "us-east-1"
    version: str = "$LATEST"
    runtime_only: bool = False
    init_timeout: float = INIT_TIMEOUT

    def __post_init__(self) -> None:
        validate(self)

    def arn(self, qualifier: str | None = None) -> str:
        base = f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"
        return f"{base}:{qualifier}" if qualifier else base

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"


def validate(config: FunctionConfig) -> None:
    """Refuse what the service refuses, with a message that says the allowed range."""
    if not config.runtime_only and not MIN_TIMEOUT <= config.timeout <= MAX_TIMEOUT:
        raise ConfigError(f"timeout={config.timeout}: Lambda allows 1 to 900 seconds.")
    if not MIN_MEMORY <= config.memory_mb <= MAX_MEMORY:
        raise ConfigError(f"memory={config.memory_mb} MB: Lambda allows 128 to 10240 MB.")
    reserved = sorted(set(config.env) & RESERVED_ENV)
    if reserved:
        raise ConfigError(f"{', '.join(reserved)}: reserved by Lambda; a function can't set it.")
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in config.env.items())
    if size > MAX_CUSTOM_ENV_BYTES:
        raise ConfigError(f"function environment variables take {size} bytes: Lambda allows 4 KB in total.")


def log_stream_name(version: str = "$LATEST") -> str:
    day = datetime.now(timezone.utc).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{uuid.uuid4().hex}"


def runtime_path(opt: Path) -> str:
    """Lambda's PATH, with /opt/bin pointing at the emulator's opt. The emulator appends the folder of the Python
    running it, so `#!/usr/bin/env python3` finds an interpreter here (on Lambda it would come from a layer)."""
    parts = ["/usr/local/bin", "/usr/bin/", "/bin", str(opt / "bin"), os.path.dirname(sys.executable)]
    return ":".join(dict.fromkeys(parts))


def runtime_environment(config: FunctionConfig, runtime_api: str) -> dict[str, str]:
    """The variables the service sets for the runtime process (plus the function's own)."""
    task, rt, opt = str(config.task_root), str(config.runtime_dir), str(config.opt)
    env = {
        "_HANDLER": config.handler,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "LAMBDA_TASK_ROOT": task,
        "LAMBDA_RUNTIME_DIR": rt,
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": config.version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name(config.version),
        **FAKE_CREDENTIALS,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": runtime_path(config.opt),
        "LD_LIBRARY_PATH": f"/lib64:/usr/lib64:{rt}:{rt}/lib:{task}:{task}/lib:{opt}/lib",
    }
    env.update({k: str(v) for k, v in config.env.items()})  # PATH, LANG, TZ... may be changed by the function
    return env
