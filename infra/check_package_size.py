"""Check a Lambda deployment zip against Lambda's 250 MB unzipped limit, and its compiled
code against the functions' architecture.

    python infra/check_package_size.py build/package/deployment.zip

Prints the unzipped size (the sum of the files' sizes in the zip) and the largest top-level
packages inside; exits 1 if the total is over the limit, or if a shared object in it is built
for another machine than `.chalice/config.json`'s `lambda_architecture` (a dependency without
a wheel for it would be packaged from the builder's own, and fail to import in Lambda).
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from collections import Counter
from pathlib import Path

LAMBDA_UNZIPPED_LIMIT = 262_144_000  # 250 MiB: code and layers, unzipped
TOP = 10
CHALICE_CONFIG = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"
# ELF's e_machine for each architecture Lambda runs.
ELF_MACHINES = {"arm64": 183, "x86_64": 62}

# numpy-2.2.6.dist-info, numpy.libs, ImageHash-4.3.2.data -> their distribution's name
_SUFFIX = re.compile(r"(-[^-]+\.(dist-info|data|egg-info)|\.libs)$")
# import names whose distribution is called something else
_DISTRIBUTION = {
    "pil": "pillow",
    "pywt": "pywavelets",
    "_pillow_heif": "pillow_heif",
    "pillow_jxl": "pillow_jxl_plugin",
}


def package_of(name: str) -> str:
    """The top-level package (or module) a zip entry belongs to."""
    top = name.split("/", 1)[0]
    if "/" in name:
        top = _SUFFIX.sub("", top)
    elif top.endswith(".so"):
        top = top.split(".", 1)[0]  # _pillow_heif.cpython-311-aarch64-linux-gnu.so
    top = top.lower()
    return _DISTRIBUTION.get(top, top)


def sizes(path: Path) -> tuple[int, Counter[str]]:
    """(unzipped bytes, unzipped bytes by top-level package)."""
    by_package: Counter[str] = Counter()
    total = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            total += info.file_size
            by_package[package_of(info.filename)] += info.file_size
    return total, by_package


def foreign_binaries(path: Path, architecture: str) -> list[str]:
    """Shared objects in the zip that are built for another machine than `architecture`."""
    wanted = ELF_MACHINES[architecture]
    foreign = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename.rsplit("/", 1)[-1]
            if info.is_dir() or not (name.endswith(".so") or ".so." in name):
                continue
            with archive.open(info) as member:
                head = member.read(20)
            if head[:4] != b"\x7fELF":
                continue
            machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
            if machine != wanted:
                foreign.append(info.filename)
    return foreign


def architecture() -> str:
    config = json.loads(CHALICE_CONFIG.read_text())
    return str(config.get("lambda_architecture", "x86_64"))


def mb(size: int) -> str:
    return f"{size / 1024 / 1024:7.1f} MiB"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} DEPLOYMENT.zip", file=sys.stderr)
        return 2
    path = Path(argv[1])
    total, by_package = sizes(path)
    print(
        f"{path}: {total:,} bytes unzipped ({mb(total).strip()}), "
        f"{path.stat().st_size:,} bytes zipped; limit {LAMBDA_UNZIPPED_LIMIT:,} bytes"
    )
    print("largest packages (unzipped):")
    for name, size in by_package.most_common(TOP):
        print(f"  {mb(size)}  {100 * size / total:5.1f}%  {name}")
    failed = False
    if total > LAMBDA_UNZIPPED_LIMIT:
        print(
            f"FAIL: {total - LAMBDA_UNZIPPED_LIMIT:,} bytes over Lambda's unzipped limit",
            file=sys.stderr,
        )
        failed = True
    target = architecture()
    foreign = foreign_binaries(path, target)
    if foreign:
        print(
            f"FAIL: {len(foreign)} shared objects not built for {target}: "
            + ", ".join(foreign[:TOP]),
            file=sys.stderr,
        )
        failed = True
    if failed:
        return 1
    print(f"OK: {LAMBDA_UNZIPPED_LIMIT - total:,} bytes to spare; shared objects for {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
