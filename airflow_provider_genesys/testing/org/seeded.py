"""Seeded hashes: every generated id and attribute is a pure function of ``(seed, kind, index)``.

Shared by the org's users and authorization (``directory.py``), its other subjects (``subjects.py``) and
routing (``routing.py``), so the same seed gives the same org whichever part is asked first.
"""

from __future__ import annotations

import hashlib
import uuid


def digest(seed: int, kind: str, index: int, size: int = 32) -> bytes:
    """``size`` bytes derived from ``(seed, kind, index)``."""
    return hashlib.blake2b(f"{seed}:{kind}:{index}".encode(), digest_size=size).digest()


def seeded_uuid(seed: int, kind: str, index: int, size: int = 32) -> str:
    """A version-4 UUID from the first 16 bytes of :func:`digest` (``size`` keeps existing ids stable)."""
    return str(uuid.UUID(bytes=digest(seed, kind, index, size)[:16], version=4))
