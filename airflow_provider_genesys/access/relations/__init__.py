"""The relations the access engine keeps equal to a table, one module each (docs/access.md).

Importing this package registers them (``access/registry.py``), in the order users see them listed. A new
relation is one module here (its interface: ``base.Relation``), its line below, and its emulator area.
"""

from __future__ import annotations

from airflow_provider_genesys.access.relations.base import AdminEffect, Columns, Relation
from airflow_provider_genesys.access.relations.grants import GRANTS
from airflow_provider_genesys.access.relations.group_members import GROUP_MEMBERS
from airflow_provider_genesys.access.relations.queue_members import QUEUE_MEMBERS
from airflow_provider_genesys.access.relations.user_division import USER_DIVISION
from airflow_provider_genesys.access.relations.user_languages import USER_LANGUAGES
from airflow_provider_genesys.access.relations.user_skills import USER_SKILLS
from airflow_provider_genesys.access.relations.user_state import USER_STATE

__all__ = ["GRANTS", "GROUP_MEMBERS", "QUEUE_MEMBERS", "USER_DIVISION", "USER_LANGUAGES", "USER_SKILLS", "USER_STATE",
           "AdminEffect", "Columns", "Relation"]
