"""Adapters are leaves: AWS is called only from `chalicelib/adapters/`, and no adapter imports
a service. Read from the source (AST), so a new module is held to the rule without a list."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"
ADAPTERS = CHALICELIB / "adapters"
WIRING = CHALICELIB / "wiring.py"
AWS_PACKAGES = ("boto3", "botocore")
# What an adapter may import of Cordon: other adapters and the pure core. A new pure module
# (no AWS, no adapter, no service behind it) may join; a service may not.
ADAPTER_MAY_IMPORT = (
    "chalicelib.adapters",
    "chalicelib.errors",
    "chalicelib.index",
    "chalicelib.lifecycle",
    "chalicelib.logs",
    "chalicelib.models",
    "chalicelib.signals",
    "chalicelib.updates",
)
# Building a handle is the wiring's job; anything else on a client is an AWS call.
BUILDING_CALLS = frozenset({"client", "resource", "Table"})


def aws_style_keywords(call: ast.Call) -> list[str]:
    """boto3 operations take PascalCase keywords (`QueueUrl=`, `TopicArn=`, `Key=`); Cordon's
    own functions take snake_case ones. So such a call on an injected client is caught too."""
    return [k.arg for k in call.keywords if k.arg and k.arg[0].isupper()]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, package: str) -> Iterator[tuple[int, str]]:
    """Every name a source in `package` imports, in full (`from a import b` gives a.b, which
    lies within a whether b is a module or a name)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def client_builders(tree: ast.AST) -> set[str]:
    """Attributes of the wiring that return a boto3 client or resource (`s3`, `sqs`...)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Return)
                    and isinstance(inner.value, ast.Call)
                    and isinstance(inner.value.func, ast.Attribute)
                    and inner.value.func.attr in ("client", "resource")
                ):
                    names.add(node.name)
    return names


def _is_client(node: ast.expr, builders: set[str]) -> bool:
    """`self.sqs`, or `self.client("sns")`: a client the wiring built."""
    if isinstance(node, ast.Call):
        node = node.func
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and node.attr in builders
    )


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """What `module` does against the rule, one line each (empty: it keeps the rule)."""
    tree = ast.parse(source)
    package = module if is_package else module.rsplit(".", 1)[0]
    found = []
    in_adapters = within(module, ("chalicelib.adapters",))
    is_wiring = module == "chalicelib.wiring"
    for line, name in imported_modules(tree, package):
        if in_adapters:
            if within(name, ("chalicelib",)) and not within(name, ADAPTER_MAY_IMPORT):
                found.append(f"{module}:{line} adapter imports {name}")
        elif within(name, AWS_PACKAGES) and not (is_wiring and name == "boto3"):
            found.append(f"{module}:{line} imports {name} outside chalicelib/adapters/")
    if in_adapters:
        return sorted(set(found))
    builders = client_builders(tree) if is_wiring else set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        attr = node.func.attr
        if aws_style_keywords(node):
            found.append(f"{module}:{node.lineno} calls AWS (.{attr}) outside chalicelib/adapters/")
        elif attr in ("client", "resource") and not is_wiring:
            found.append(f"{module}:{node.lineno} builds an AWS .{attr}() outside the wiring")
        elif is_wiring and _is_client(node.func.value, builders) and attr not in BUILDING_CALLS:
            found.append(f"{module}:{node.lineno} calls AWS (.{attr}) in the wiring")
    return sorted(set(found))


def cordon_sources() -> list[Path]:
    return sorted([*CHALICELIB.rglob("*.py"), ROOT / "app.py"])


def test_only_adapters_call_aws_and_adapters_import_no_service():
    broken = [
        problem
        for path in cordon_sources()
        for problem in violations(
            path.read_text(), module_name(path), is_package=path.name == "__init__.py"
        )
    ]
    assert broken == [], "\n".join(broken)


def test_the_scan_sees_the_modules_it_guards():
    names = {module_name(path) for path in cordon_sources()}
    assert {"app", "chalicelib.wiring", "chalicelib.feed", "chalicelib.adapters.queues"} <= names


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("chalicelib.feed", "from boto3.dynamodb.conditions import Key", "imports boto3"),
        ("chalicelib.sharing", "import botocore.exceptions", "imports botocore"),
        ("chalicelib.ingest", "def f(session):\n    session.client('sqs')", "builds an AWS"),
        ("chalicelib.ingest", "def f(sqs):\n    sqs.send_message(QueueUrl='u')", "calls AWS"),
        ("app", "def f(cordon):\n    cordon.sns.publish(TopicArn='t')", "calls AWS (.publish)"),
        ("chalicelib.adapters.tenants", "from chalicelib.sharing import X", "adapter imports"),
        ("chalicelib.adapters.hashes", "from chalicelib import feed", "adapter imports"),
        ("chalicelib.adapters.flood", "from ..review import Reviews", "adapter imports"),
        (
            "chalicelib.wiring",
            "class C:\n    def sqs(self):\n        return boto3.client('sqs')\n"
            "    def url(self):\n        return self.sqs.get_queue_url(QueueName='q')",
            "calls AWS (.get_queue_url)",
        ),
        (
            "chalicelib.wiring",
            "class C:\n    def client(self, name):\n        return boto3.client(name)\n"
            "    def tell(self):\n        self.client('sns').publish(Message='m')",
            "calls AWS (.publish)",
        ),
    ],
)
def test_the_scan_catches_a_breach(module: str, source: str, expected: str):
    (problem,) = violations(source, module)
    assert expected in problem


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("chalicelib.adapters.queues", "import boto3\nfrom chalicelib.models import Tenant"),
        ("chalicelib.adapters.feed", "from chalicelib import models, logs\nfrom . import x"),
        (
            "chalicelib.wiring",
            "import boto3\nclass C:\n    def dynamodb(self):\n        return boto3.resource('d')\n"
            "    def table(self):\n        return self.dynamodb.Table('t')",
        ),
    ],
)
def test_the_scan_lets_the_rule_keepers_be(module: str, source: str):
    assert violations(source, module) == []
