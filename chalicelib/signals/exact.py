"""Exact hashes of the object's bytes."""

from __future__ import annotations

from chalicelib.signals.base import BytesHasher


class SHA256(BytesHasher):
    name = "sha256"
    algorithm = "sha256"
    bits = 256

    @classmethod
    def get_examples(cls) -> list[str]:
        return ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]


class MD5(BytesHasher):
    name = "md5"
    algorithm = "md5"
    bits = 128

    @classmethod
    def get_examples(cls) -> list[str]:
        return ["d41d8cd98f00b204e9800998ecf8427e"]
