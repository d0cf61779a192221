"""Evidence is never made deletable: no code path calls an S3 API that shortens or removes an
object's retention, and the functions' role may not either.

moto lets COMPLIANCE retention be shortened, which S3 forbids; so the guarantee is checked on
what ships (the source and the role), not on moto's behaviour."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.unit.test_infra import _allowed, _statements
from tests.unit.test_infra import merge as merge  # a fixture
from tests.unit.test_infra import resources as resources  # the fixture it uses

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
TOOLS = sorted((ROOT / "cordon_cli").rglob("*.py"))
# Calls that change an object's retention, legal hold or the bucket's lock, and the flag
# that skips a governance-mode lock.
RETENTION_CALLS = {"put_object_retention", "put_object_legal_hold", "put_object_lock_configuration"}
BYPASS = "BypassGovernanceRetention"
ROLE_ACTIONS = [
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:PutBucketObjectLockConfiguration",
    "s3:BypassGovernanceRetention",
    "s3:*",
]


def retention_changes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in RETENTION_CALLS:
                found.append(f"{path.name}:{node.lineno} calls {name}")
            found.extend(
                f"{path.name}:{node.lineno} passes {BYPASS}"
                for keyword in node.keywords
                if keyword.arg == BYPASS
            )
        if isinstance(node, ast.Constant) and node.value == BYPASS:
            found.append(f"{path.name}:{node.lineno} names {BYPASS}")
    return found


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_shipped_code_changes_an_objects_retention(path: Path):
    assert retention_changes(path) == []


def test_the_tools_set_the_lock_only_when_they_create_the_evidence_bucket():
    calls = [hit for path in TOOLS for hit in retention_changes(path)]
    assert all(hit.startswith("bootstrap.py:") for hit in calls), calls
    assert all("put_object_lock_configuration" in hit for hit in calls), calls


def test_the_scan_finds_what_it_looks_for(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "s3.put_object_retention(Bucket='e', Key='k', Retention={})\n"
        "s3.delete_object(Bucket='e', Key='k', BypassGovernanceRetention=True)\n"
    )
    assert len(retention_changes(bad)) == 2


def test_the_role_may_not_change_retention(merge):
    assert _statements(merge)
    for action in ROLE_ACTIONS:
        assert _allowed(merge, action) == [], action
