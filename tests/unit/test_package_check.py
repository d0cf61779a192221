"""`infra/check_package_size.py` refuses compiled code for another machine than the
functions': a dependency without an aarch64 wheel would otherwise ship the builder's x86_64
build and fail to import in Lambda."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.unit.test_infra import size_check


def elf(machine: int) -> bytes:
    """The start of a little-endian 64-bit ELF shared object for `machine`."""
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x03\x00" + machine.to_bytes(2, "little")


def deployment(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def test_shared_objects_for_another_machine_are_listed(tmp_path: Path):
    path = deployment(
        tmp_path / "deployment.zip",
        {
            "pillow_heif/_pillow_heif.cpython-311-aarch64-linux-gnu.so": elf(183),
            "resvg_py/resvg_py.abi3.so": elf(62),
            "pillow_heif.libs/libheif.so.1.19.5": elf(62),
            "app.py": b"print('x')",
            "notes.so.txt": b"not an ELF",
        },
    )

    assert size_check.foreign_binaries(path, "arm64") == [
        "resvg_py/resvg_py.abi3.so",
        "pillow_heif.libs/libheif.so.1.19.5",
    ]
    assert size_check.foreign_binaries(path, "x86_64") == [
        "pillow_heif/_pillow_heif.cpython-311-aarch64-linux-gnu.so"
    ]


def test_main_fails_on_a_foreign_binary(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    good = deployment(tmp_path / "good.zip", {"numpy/core.so": elf(183)})
    bad = deployment(tmp_path / "bad.zip", {"numpy/core.so": elf(62)})

    assert size_check.architecture() == "arm64"  # .chalice/config.json
    assert size_check.main(["check", str(good)]) == 0
    assert size_check.main(["check", str(bad)]) == 1
    assert "not built for arm64: numpy/core.so" in capsys.readouterr().err
