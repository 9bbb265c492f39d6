"""The project's entry points agree with each other: environment.yml, pyproject.toml, README, .ci/run."""

import re
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def environment():
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def conda_and_pip():
    """(conda dependencies as strings, pip entries as strings) of environment.yml."""
    conda, pip = [], []
    for dep in environment()["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(dep.get("pip", []))
        else:
            conda.append(str(dep))
    return conda, pip


def project_names():
    """Every package name pyproject.toml installs: dependencies and all extras."""
    project = pyproject()
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return {canonicalize_name(Requirement(r).name) for r in reqs}


def is_this_project(entry):
    """'-e .', '.', '-e .[dev]', '.[dev]' -> the extras asked for (a set); anything else -> None."""
    m = re.fullmatch(r"(?:-e\s+)?\.(?:\[([\w,\s-]*)\])?", entry.strip())
    if not m:
        return None
    return {e.strip() for e in (m.group(1) or "").split(",") if e.strip()}


def test_environment_python_satisfies_requires_python():
    conda, _ = conda_and_pip()
    pythons = [d for d in conda if re.match(r"python\b", d)]
    assert len(pythons) == 1, f"environment.yml should pin python once, found {pythons}"
    m = re.fullmatch(r"python\s*=+\s*(\d+\.\d+)(?:\.\*)?", pythons[0])
    assert m, f"expected 'python=X.Y', got {pythons[0]!r}"
    requires = SpecifierSet(pyproject()["requires-python"])
    assert Version(m.group(1)) in requires, f"python {m.group(1)} does not satisfy {requires}"


def test_environment_installs_this_project():
    conda, pip = conda_and_pip()
    assert "pip" in conda, "environment.yml needs pip to install the project"
    installs = [is_this_project(entry) for entry in pip]
    installs = [extras for extras in installs if extras is not None]
    assert len(installs) == 1, f"environment.yml should install this project once with pip, got {pip}"
    known = set(pyproject().get("optional-dependencies", {}))
    assert installs[0] <= known, f"unknown extras {installs[0] - known}"


def test_environment_lists_no_package_missing_from_pyproject():
    conda, pip = conda_and_pip()
    names = project_names()
    for entry in pip:
        if is_this_project(entry) is None:
            name = canonicalize_name(Requirement(entry).name)
            assert name in names, f"environment.yml installs {entry!r} which pyproject.toml does not list"
    for dep in conda:
        name = canonicalize_name(re.split(r"[\s=<>!~]", dep, maxsplit=1)[0])
        if name not in {"python", "pip"}:
            assert name in names, f"environment.yml installs {dep!r} which pyproject.toml does not list"


def test_readme_test_command_is_make_test():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```[^\n]*\n(.*?)```", readme, flags=re.S)
    commands = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    assert "make test" in commands, "the README should give `make test` as the test command"
    assert not any(c.startswith(("pytest", "python -m pytest")) for c in commands), (
        "the README should not give a different test command than `make test`"
    )


def test_ci_runs_make_test():
    ci = ROOT / ".ci" / "run"
    assert ci.stat().st_mode & 0o111, ".ci/run must be executable"
    lines = [line.strip() for line in ci.read_text().splitlines()]
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    commands = [line for line in lines if line and not line.startswith("#")]
    assert any(re.fullmatch(r"(exec\s+)?make test", c) for c in commands), ".ci/run should call `make test`"


def test_makefile_has_the_documented_targets():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("venv", "system-deps", "test", "lint", "bench", "lab", "clean"):
        assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.M), f"no `{target}` target"
