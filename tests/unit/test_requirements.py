"""`make demo` installs what the demo, the local stack and `make package` need, from wheels only;
`make test` adds the tests' packages, pdqhash among them (no wheel: it is compiled). Read from
the requirement files and the Makefile (no network: the wheels were checked on the registry
when the split was made, and `--only-binary :all:` makes pip refuse to compile any)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Packages with no wheel for CPython 3.11 on manylinux (pip download --only-binary :all:
# found none for pdqhash 0.2.8).
NO_WHEEL = {"pdqhash"}


def _name(line: str) -> str:
    return re.split(r"[\[=<>!~;\s]", line, maxsplit=1)[0].lower().replace("_", "-")


def requirements(path: Path) -> set[str]:
    """Every package a requirement file names, with those of the files it includes (-r)."""
    names: set[str] = set()
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r"):
            names |= requirements(path.parent / line[2:].strip())
        elif line:
            names.add(_name(line))
    return names


def own(path: Path) -> set[str]:
    """The packages a requirement file names itself."""
    lines = (raw.split("#", 1)[0].strip() for raw in path.read_text().splitlines())
    return {_name(line) for line in lines if line and not line.startswith("-")}


def make_dry_run(target: str) -> str:
    """What `make TARGET` would run from a fresh clone (-B: as if nothing were installed)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_the_demo_set_is_the_lambdas_plus_the_local_stack_and_packaging_without_pdqhash():
    demo = requirements(ROOT / "requirements-local.txt")
    assert requirements(ROOT / "requirements.txt") <= demo
    assert {"boto3", "chalice", "moto", "rich", "cfn-lint"} <= demo
    assert not demo & NO_WHEEL
    dev_only = own(ROOT / "requirements-dev.txt")
    assert "pdqhash" in dev_only and "pytest" in dev_only
    assert not demo & dev_only, "the demo would install the tests' packages"
    assert requirements(ROOT / "requirements-dev.txt") == demo | dev_only


@pytest.mark.parametrize("target", ["demo", "local", "package"])
def test_the_demo_installs_wheels_only_and_not_the_test_requirements(target: str):
    commands = make_dry_run(target)
    assert "-m pip install --quiet --only-binary :all: -r requirements-local.txt" in commands
    assert "requirements-dev.txt" not in commands
    assert "apt-get install" not in commands, "no compiler, no browser"
    assert "setup took" in commands


def test_make_test_adds_the_test_requirements_and_a_compiler_for_pdqhash():
    commands = make_dry_run("test")
    assert "-m pip install --quiet -r requirements-dev.txt" in commands
    assert "apt-get install -y -qq g++ python3-dev" in commands
    assert commands.index("requirements-local.txt") < commands.index("requirements-dev.txt")
    # pip compiles pdqhash: the compiler check comes before it
    assert commands.index("command -v c++") < commands.index("requirements-dev.txt")


def _third_party_imports(paths: list[Path]) -> set[str]:
    local = {"app", "chalicelib", "cordon_cli", "infra", "bench", "tests"}
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in local and m not in sys.stdlib_module_names}


def test_what_the_demo_and_the_lambdas_import_comes_from_the_demo_set():
    shipped = [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")]
    shipped += [*(ROOT / "cordon_cli").rglob("*.py"), *(ROOT / "infra").rglob("*.py")]
    distributions = packages_distributions()
    dev_only = own(ROOT / "requirements-dev.txt")
    imported = {
        dist.lower().replace("_", "-")
        for module in _third_party_imports(shipped)
        for dist in distributions.get(module, [])
    }
    assert imported and not imported & dev_only
