"""Deployment packages and layers: a directory or a zip becomes the task root; layers are merged into `opt`."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path

MAX_LAYERS = 5
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # function + layers, unzipped


class PackageError(ValueError):
    """A deployment package or layer the service would refuse."""


def extract_zip(zip_path: Path, dest: Path) -> int:
    """Extract a zip keeping Unix permissions (the bootstrap's executable bit lives in the zip's external
    attributes). Returns the number of bytes written."""
    total = 0
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise PackageError(f"{zip_path} is not a valid zip file ({exc}).") from exc
    with archive:
        for info in archive.infolist():
            total += info.file_size
            if total > MAX_UNZIPPED_BYTES:
                raise PackageError(f"{zip_path}: unzipped size is over the 250 MB limit of Lambda.")
            target = Path(archive.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o7777
            if mode and not info.is_dir():
                target.chmod(mode)
    return total


def materialize(source: Path, dest: Path) -> Path:
    """Copy or extract ``source`` (a directory or a .zip) into ``dest``; returns ``dest``."""
    source = Path(source)
    if not source.exists():
        raise PackageError(f"{source} does not exist: give a directory or a .zip file.")
    dest.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest, dirs_exist_ok=True, symlinks=True)
    elif zipfile.is_zipfile(source):
        extract_zip(source, dest)
    else:
        raise PackageError(f"{source} is neither a directory nor a zip file.")
    return dest


def prepare_task_root(source: Path, workdir: Path) -> Path:
    """A directory is used in place (edits show up on the next cold start); a zip is extracted under workdir."""
    source = Path(source).resolve()
    if source.is_dir():
        return source
    return materialize(source, workdir / "task")


def prepare_opt(layers: Iterable[Path], workdir: Path) -> Path:
    """Extract layers in order into one `opt` directory; a later layer's file replaces an earlier one's."""
    layers = [Path(p) for p in layers]
    if len(layers) > MAX_LAYERS:
        raise PackageError(f"{len(layers)} layers given: a function can use at most {MAX_LAYERS}.")
    opt = workdir / "opt"
    opt.mkdir(parents=True, exist_ok=True)
    for layer in layers:
        materialize(layer, opt)
    return opt
