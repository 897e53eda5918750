"""``user_skills``: which routing skills each user holds, and how well (proficiency 0-5).

Desired table: ``user``, ``skill``, ``proficiency``. The scope is the managed skills (``managed=``; default:
the skills the table names): a user holding a managed skill the table does not give it loses it in ``sync``.
Skills are named by id or name (case-insensitive), from ``GET /api/v2/routing/skills``. Reading and writes:
``proficiencies.py``; skills alone can be replaced whole (``PUT /api/v2/users/{id}/routingskills/bulk``).
Permission: ``routing:skill:assign``.
"""

from __future__ import annotations

from airflow_provider_genesys.access.registry import register
from airflow_provider_genesys.access.relations.base import Columns
from airflow_provider_genesys.access.relations.proficiencies import Proficiencies
from airflow_provider_genesys.extract.plans.skills import SKILL, SKILLS


class UserSkills(Proficiencies):
    name = "user_skills"
    columns = Columns(("user", "skill", "proficiency"))
    target_fields = ("skill", "proficiency")
    named_fields = ("skill",)
    scope_word = "skill"
    managed_kind = "skills"
    held_word = "skills held"
    holding = SKILL
    catalogue = SKILLS
    write_path = "/api/v2/users/{}/routingskills"
    replaceable = True
    field_kinds = {"skill": "skills"}
    permissions = {"skills_bulk": "routing:skill:assign", "skills_replace": "routing:skill:assign",
                   "skill_delete": "routing:skill:assign"}


USER_SKILLS = register(UserSkills())
