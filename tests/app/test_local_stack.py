"""`cordon local` as a user runs it: a separate process, then the demo attached to it."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from tests.app.local_process import cordon_local


def _assert_demo_passed(stdout: str, beta: str = "beta") -> None:
    assert "17/17 as expected" in stdout
    assert "distance (bits, match ≤ 31)" in stdout
    assert "S3 Object Lock in COMPLIANCE mode" in stdout
    assert "13 quarantined (7 taken down, 6 held for review), 4 allowed" in stdout
    assert "its hashes are shared" in stdout
    assert "back in the bucket, bit-identical" in stdout
    assert "poster-from-last-week.jpg is now quarantined" in stdout
    assert re.search(r"re-upload:.*were\s+taken\s+down\s+again", stdout, re.S)
    # sha256, md5, pdq and phash of the confirmed image, and its stored variants
    assert re.search(
        rf"from\s+{beta}\s+\(4\s+of\s+the\s+image,\s+[1-9]\d*\s+of\s+its\s+stored", stdout
    )


@pytest.mark.slow
def test_cordon_local_then_demo_twice_end_to_end(tmp_path: Path):
    with cordon_local(tmp_path) as local:
        with urllib.request.urlopen(f"{local.api}/health", timeout=10) as response:
            assert json.load(response) == {"status": "ok"}
        demo = local.cordon("demo", "--timeout", "90")
        assert demo.returncode == 0, demo.stdout + demo.stderr
        _assert_demo_passed(demo.stdout)
        # GIVEN a stack an earlier demo filled (tenants, shared and confirmed hashes, cases)
        # WHEN the demo runs again THEN it passes again, under tenants of its own, and says so
        again = local.cordon("demo", "--timeout", "90")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "this is run 2, with tenants alpha-2 and beta-2" in again.stdout
        _assert_demo_passed(again.stdout, beta="beta-2")
        # The commands it suggests work as printed.
        assert "Try next" in again.stdout
        trace = "trace s3://alpha-2-uploads/archive/poster-from-last-week.jpg"
        assert f"cordon --local {trace}" in again.stdout
        assert local.cordon(*trace.split(), "--json").returncode == 0
        assert local.cordon("hashes", "export", "--tenant", "alpha-2").returncode == 0
        assert local.cordon("dlq", "list").returncode == 0
        key = local.cordon("tenants", "key", "beta-2", "--reviewer", "you")
        assert key.returncode == 0, key.stderr
        listed = local.cordon("reviews", "list", "--key", key.stdout.strip(), "--json")
        assert listed.returncode == 0, listed.stderr
    assert not local.state_file.exists(), "cordon local should remove its state file on exit"
