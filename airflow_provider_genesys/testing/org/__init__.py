"""The generated org, split like Genesys' API areas; every part is deterministic for ``(users, seed)``.

    seeded.py         seeded hashes: ids and attributes from (seed, kind, index)
    catalogue.py      fixed names: roles, divisions, permissions, first/last names, titles
    directory.py      Org: users, roles, divisions, permissions and user grants (the ground truth, ``emu.org``)
    subjects.py       groups (with members), OAuth clients, trustees and their grants (``emu.org.subjects``)
    skills.py         routing skill and language catalogues, what each user holds (``emu.org.proficiencies``)
    routing.py        queues, their members and wrap-up codes (``emu.analytics.routing``)
    conversations.py  the conversation and presence history (``emu.analytics.history``)

The handlers that serve these over HTTP are in ``testing/areas/``. ``Org`` is re-exported here.
"""

from airflow_provider_genesys.testing.org.directory import STATE_FILTERS, GrantRefused, Org, Pair

__all__ = ["STATE_FILTERS", "GrantRefused", "Org", "Pair"]
