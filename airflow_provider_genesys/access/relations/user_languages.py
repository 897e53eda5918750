"""``user_languages``: which routing languages each user speaks, and how well (proficiency 0-5).

Desired table: ``user``, ``language``, ``proficiency``. As ``user_skills`` (``proficiencies.py``), but
Genesys has no replace of a user's whole language set: adds and proficiency changes go in one ``PATCH
/api/v2/users/{id}/routinglanguages/bulk``, removals one ``DELETE .../routinglanguages/{languageId}`` each.
Languages are named by id or name, from ``GET /api/v2/routing/languages``. Permission:
``routing:skill:assign`` or ``routing:language:assign``.
"""

from __future__ import annotations

from airflow_provider_genesys.access.registry import register
from airflow_provider_genesys.access.relations.base import Columns
from airflow_provider_genesys.access.relations.proficiencies import Proficiencies
from airflow_provider_genesys.extract.plans.skills import LANGUAGE, LANGUAGES


class UserLanguages(Proficiencies):
    name = "user_languages"
    columns = Columns(("user", "language", "proficiency"))
    target_fields = ("language", "proficiency")
    named_fields = ("language",)
    scope_word = "language"
    managed_kind = "languages"
    held_word = "languages held"
    holding = LANGUAGE
    catalogue = LANGUAGES
    write_path = "/api/v2/users/{}/routinglanguages"
    field_kinds = {"language": "languages"}
    permissions = {"languages_bulk": "routing:language:assign (or routing:skill:assign)",
                   "language_delete": "routing:language:assign (or routing:skill:assign)"}


USER_LANGUAGES = register(UserLanguages())
