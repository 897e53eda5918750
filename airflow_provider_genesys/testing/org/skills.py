"""Routing skills and languages: the org's two catalogues and what each user holds, with a proficiency.

Genesys routes an interaction to agents holding the skills and languages it asks for (``UserRoutingSkill``,
``UserRoutingLanguage``: ``proficiency`` a float from 0.0 to 5.0; the admin UI shows whole stars, so
generated proficiencies are whole numbers and the API accepts any number in the range). The catalogues
are fixed names with ids from the seed; skills belong to divisions (``RoutingSkill.division``), languages
do not. What a user holds is derived on demand from a hash of ``(seed, index)``, like the rest of the
org, so 100,000 users cost nothing until asked; users the API changed keep their whole set in a small
overlay (:meth:`Proficiencies.change`). Deleted users hold nothing. A catalogue entry deleted by a test
(:meth:`Catalogue.delete`) leaves its listing and every user's set.

``Org`` (``directory.py``) owns one :class:`Proficiencies` and answers for it (``user_skills(i)``,
``change_proficiencies(...)``); ``areas/routing.py`` serves the catalogues, ``areas/user_routing.py`` a
user's sets and their writes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_genesys.testing.org.seeded import digest, seeded_uuid

SKILL, LANGUAGE = "skill", "language"
KINDS = (SKILL, LANGUAGE)
MAX_PROFICIENCY = 5.0
MODIFIED = "2021-03-01T00:00:00.000Z"  # dateModified of every catalogue entry
SKILL_NAMES = (
    "Billing", "Refunds", "Payments", "Collections", "Disputes", "Sales", "Upsell", "Renewals", "Retention",
    "Cancellations", "Onboarding", "Order Status", "Returns", "Shipping", "Warranty", "Technical Support L1",
    "Technical Support L2", "Networking", "Mobile Devices", "Broadband", "TV Services", "Account Security",
    "Password Reset", "Fraud", "Complaints", "Escalations", "VIP Accounts", "Small Business", "Enterprise",
    "Claims", "Insurance Quotes", "Appointments", "Chat", "Email", "Social Media", "Outbound Campaigns",
)
LANGUAGE_NAMES = (
    "English", "Spanish", "French", "German", "Portuguese", "Italian", "Dutch", "Polish", "Swedish",
    "Japanese", "Mandarin", "Korean", "Arabic", "Hindi",
)
_SKILL_DIVISIONS = 5  # every 6th skill belongs to a division other than Home (1..5), the rest to Home
_NO_SKILLS_PERCENT = 20  # users holding no skill (supervisors, back office, new hires)
_MAX_SKILLS = 8
_NO_LANGUAGES_PERCENT = 15
_MAX_LANGUAGES = 3
_ENGLISH_PERCENT = 70  # users whose first language is the catalogue's first (English)

Held = dict[int, float]  # catalogue index -> proficiency


@dataclass
class Catalogue:
    """One catalogue (skills or languages): ids from the seed, fixed names, entries a test deleted."""

    kind: str
    seed: int
    names: tuple[str, ...]
    ids: list[str] = field(init=False)
    deleted: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.ids = [seeded_uuid(self.seed, self.kind, k) for k in range(len(self.names))]
        self._by_id = {entry_id: k for k, entry_id in enumerate(self.ids)}

    def index_of(self, entry_id: str) -> int | None:
        """The entry's index, ``None`` when unknown or deleted."""
        k = self._by_id.get(entry_id)
        return None if k is None or k in self.deleted else k

    def live(self) -> list[int]:
        """Indexes of the entries that exist, in catalogue order."""
        return [k for k in range(len(self.ids)) if k not in self.deleted]

    def delete(self, entry_id: str) -> None:
        """A test control (Genesys' ``DELETE /api/v2/routing/skills/{id}`` or ``.../languages/{id}``)."""
        k = self._by_id.get(entry_id)
        if k is None:
            raise KeyError(f"no {self.kind} {entry_id!r} in this org")
        self.deleted.add(k)

    def division(self, k: int) -> int:
        """The division index a skill belongs to (languages: Home, unused)."""
        return 0 if self.kind != SKILL or k % 6 else 1 + (k // 6) % _SKILL_DIVISIONS

    def render(self, k: int, division_ref: dict[str, Any] | None = None) -> dict[str, Any]:
        """``RoutingSkill`` (with ``division_ref``) or ``Language``."""
        entry_id = self.ids[k]
        body: dict[str, Any] = {"id": entry_id, "name": self.names[k]}
        if division_ref is not None:
            body["division"] = division_ref
        body.update({"dateModified": MODIFIED, "state": "active", "version": "1",
                     "selfUri": f"/api/v2/routing/{self.kind}s/{entry_id}"})
        return body


class Proficiencies:
    """Both catalogues and what every user holds; thread safe (changes hold one lock)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.catalogues = {SKILL: Catalogue(SKILL, seed, SKILL_NAMES),
                           LANGUAGE: Catalogue(LANGUAGE, seed, LANGUAGE_NAMES)}
        self._overlay: dict[str, dict[int, Held]] = {SKILL: {}, LANGUAGE: {}}  # users the API changed
        self._lock = threading.RLock()

    def generated(self, kind: str, i: int) -> Held:
        """What user ``i`` holds when the org is created: most users 1-8 skills (some none), 0-3 languages."""
        d = digest(self.seed, f"proficiency-{kind}", i)
        size = len(self.catalogues[kind].ids)
        if kind == SKILL:
            if d[0] % 100 < _NO_SKILLS_PERCENT:
                return {}
            picks = [d[2 + j] % size for j in range(1 + d[1] % _MAX_SKILLS)]
            levels = [d[12 + j] % 6 for j in range(len(picks))]
        else:
            if d[0] % 100 < _NO_LANGUAGES_PERCENT:
                return {}
            first = 0 if d[1] % 100 < _ENGLISH_PERCENT else d[2] % size
            picks = [first] + [d[3 + j] % size for j in range(d[6] % _MAX_LANGUAGES)]
            levels = [3 + d[8] % 3] + [1 + d[9 + j] % 5 for j in range(len(picks) - 1)]
        held: Held = {}
        for k, level in zip(picks, levels, strict=True):
            held.setdefault(k, float(level))  # a repeated pick keeps its first level
        return held

    def held(self, kind: str, i: int) -> Held:
        """What user ``i`` holds now (its overlay, else the generated set), without deleted entries."""
        with self._lock:
            changed = self._overlay[kind].get(i)
        held = dict(changed) if changed is not None else self.generated(kind, i)
        deleted = self.catalogues[kind].deleted
        return {k: v for k, v in held.items() if k not in deleted} if deleted else held

    def change(
        self, kind: str, i: int, *, put: Mapping[int, float] | None = None, remove: frozenset[int] = frozenset(),
        replace: bool = False,
    ) -> list[tuple[int, float | None, float | None]]:
        """Apply one write to user ``i``: ``put`` adds or updates entries, ``remove`` drops them, ``replace``
        keeps only ``put``. Returns ``(index, old, new)`` per entry that changed (``None``: not held)."""
        put = put or {}
        with self._lock:
            old = self.held(kind, i)
            new = {k: v for k, v in old.items() if k not in remove and (not replace or k in put)}
            new.update(put)
            changes = [(k, old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys())
                       if old.get(k) != new.get(k)]
            if changes:
                self._overlay[kind][i] = new
            return changes

    def changed_users(self, kind: str) -> int:
        """How many users the overlay holds (what a 100,000-user org costs after writes)."""
        return len(self._overlay[kind])

    def render_entry(self, kind: str, user_id: str, k: int, proficiency: float) -> dict[str, Any]:
        """``UserRoutingSkill`` / ``UserRoutingLanguage``: one entry a user holds."""
        catalogue = self.catalogues[kind]
        entry_id = catalogue.ids[k]
        return {
            "id": entry_id,
            "name": catalogue.names[k],
            "proficiency": float(proficiency),
            "state": "active",
            f"{kind}Uri": f"/api/v2/routing/{kind}s/{entry_id}",
            "selfUri": f"/api/v2/users/{user_id}/routing{kind}s/{entry_id}",
        }

    def ordered(self, kind: str, held: Held) -> list[int]:
        """A user's entries in the order its listing shows them: by name, then id."""
        catalogue = self.catalogues[kind]
        return sorted(held, key=lambda k: (catalogue.names[k], catalogue.ids[k]))
