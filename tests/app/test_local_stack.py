"""`cordon local` as a user runs it: a separate process, then the demo attached to it."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from tests.app.local_process import cordon_local


@pytest.mark.slow
def test_cordon_local_then_demo_end_to_end(tmp_path: Path):
    with cordon_local(tmp_path) as local:
        with urllib.request.urlopen(f"{local.api}/health", timeout=10) as response:
            assert json.load(response) == {"status": "ok"}
        demo = local.cordon("demo", "--timeout", "90")
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "17/17 as expected" in demo.stdout
        assert "distance (bits, match ≤ 31)" in demo.stdout
        assert "S3 Object Lock in COMPLIANCE mode" in demo.stdout
        assert "13 quarantined (7 taken down, 6 held for review), 4 allowed" in demo.stdout
        assert "its hashes are shared" in demo.stdout
        assert "back in the bucket, bit-identical" in demo.stdout
        assert "poster-from-last-week.jpg is now quarantined" in demo.stdout
        assert re.search(r"re-upload:.*were\s+taken\s+down\s+again", demo.stdout, re.S)
        # sha256, md5, pdq and phash of the confirmed image, and its stored variants
        assert re.search(
            r"from\s+beta\s+\(4\s+of\s+the\s+image,\s+[1-9]\d*\s+of\s+its\s+stored", demo.stdout
        )
    assert not local.state_file.exists(), "cordon local should remove its state file on exit"
