"""Guardrails: small rules over a diff, each refusing the plan with the rule, the numbers and the override.

They run when the plan is made (and :func:`check_plan_age` when it is applied), so a refused plan changes
nothing. Every rule that fails is reported, not only the first. Overrides are arguments of one run (the
operator's, or a DAG run's params): a rule is loosened on purpose, for the run that needs it, never by
default.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

from airflow_provider_genesys.access.diff import Diff
from airflow_provider_genesys.access.errors import GenesysAccessError, GuardrailError, PlanError
from airflow_provider_genesys.access.relations.base import Losses
from airflow_provider_genesys.access.state import CurrentState, Target

# The removal fraction is only a signal once removals are more than a handful: removing 2 of 3 grants of a
# small role is ordinary; removing 300 of 1,000 is an export gone wrong.
FRACTION_FLOOR = 10


@dataclass(frozen=True)
class Guardrails:
    """The limits of one run; defaults are what an administrator would accept unattended."""

    max_removals: int | None = 100
    max_removal_fraction: float | None = 0.2
    protected_subjects: frozenset[str] = frozenset()  # subject ids, resolved by the caller
    min_admins: int = 2
    allow_roleless: bool = False
    max_plan_age: timedelta | None = timedelta(hours=24)


# The rules a run may loosen, and what each takes: a whole number (None: no limit), a share between 0 and 1
# (None: no limit), a whole number, a yes/no. Values rendered from templates arrive as text.
RULE_KINDS = {"max_removals": "count_or_none", "max_removal_fraction": "share_or_none", "min_admins": "count",
              "allow_roleless": "flag", "manage_groups": "flag_or_none"}
_WORDS = {"count_or_none": "a whole number >= 0, or None (no limit)", "share_or_none": "a number between 0 and 1, "
          "or None (no limit)", "count": "a whole number >= 0", "flag": "True or False",
          "flag_or_none": "True, False or None (decided by the table)"}
_NONE = ("", "none", "null")
_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


class RuleValueError(GenesysAccessError, ValueError):
    """A guardrail argument is not a value of its kind (a typo, or a template rendering to text)."""


def rule_value(name: str, value: Any) -> Any:
    """``value`` for the rule ``name`` as its kind wants it; text (a rendered template, a DAG param) is read
    as that kind. :class:`RuleValueError` names the rule, the value and what it takes."""
    kind = RULE_KINDS[name]
    text = value.strip().lower() if isinstance(value, str) else None
    try:
        if value is None or text in _NONE:
            if kind.endswith("_or_none"):
                return None
            raise ValueError
        if kind.startswith("flag"):
            if isinstance(value, bool):
                return value
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ValueError
        if isinstance(value, bool):
            raise ValueError
        number = float(text) if text is not None else value
        if kind.startswith("count"):
            if float(number) != int(number) or int(number) < 0:
                raise ValueError
            return int(number)
        if not 0 <= float(number) <= 1:
            raise ValueError
        return float(number)
    except (ValueError, TypeError, OverflowError):
        raise RuleValueError(f"{name}={value!r} is not {_WORDS[kind]}") from None


@dataclass
class Protected:
    """Subjects no plan may change, and why each is protected (shown in the refusal)."""

    why: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, protected_subjects: Iterable[str], *, oauth_client_id: str | None = None,
           token_user_id: str | None = None) -> Protected:
        """The listed subjects plus the connection's own OAuth client and the user behind a user token."""
        why = {subject: "listed in protected_subjects" for subject in protected_subjects}
        if oauth_client_id:
            why[oauth_client_id] = "the connection's own OAuth client (always protected)"
        if token_user_id:
            why[token_user_id] = "the user behind the connection's token (always protected)"
        return cls(why)


def check(diff: Diff, current: CurrentState, rails: Guardrails, protected: Protected,
          label=str, losses: Losses | None = None) -> None:
    """Raise :class:`GuardrailError` naming every rule the diff breaks; return when all hold.

    ``losses``: the people the plan takes access from, as the relation counts them (computed here if not
    given)."""
    losses = losses or diff.spec.losses(diff, current, label)
    violations = [
        *_removals(diff, rails, losses),
        *_protected(diff, protected, label),
        *_admins(diff, current, rails, label),
        *_roleless(diff, current, rails, label),
    ]
    if violations:
        raise GuardrailError(violations)


def check_plan_age(created_at: datetime, now: datetime, max_age: timedelta | None) -> None:
    """Apply refuses a plan older than ``max_age``: the org it was computed from may have moved on."""
    if max_age is None:
        return
    age = now - created_at
    if age > max_age:
        raise PlanError(
            f"max_plan_age: the plan was made {_duration(age)} ago ({created_at.isoformat()}), more than "
            f"max_plan_age={_duration(max_age)}. Make a new plan; or, to apply this one anyway, pass "
            f"max_plan_age of at least {_duration(age)} for this run"
        )


def _removals(diff: Diff, rails: Guardrails, losses: Losses) -> list[str]:
    """``max_removals`` and ``max_removal_fraction`` count people losing access: a removal that takes a role
    from every member of a group counts once per member who loses it, a deactivation counts as a removal."""
    count = losses.count
    found = []
    if rails.max_removals is not None and count > rails.max_removals:
        found.append(
            f"max_removals: the plan {_taking(losses, diff)}, more than max_removals={rails.max_removals}. "
            f"Check the desired table; if {'the removals are ' if losses.plain else ''}intended, pass "
            f"max_removals={count} for this run"
        )
    fraction = rails.max_removal_fraction
    if fraction is not None and count > FRACTION_FLOOR and losses.base:
        share = count / losses.base
        if share > fraction:
            needed = math.ceil(share * 100) / 100
            held = f"managed {diff.spec.held_word}" if losses.base == diff.managed_held and losses.plain else (
                losses.base_words or
                f"holdings of managed {diff.spec.scope_word}s by people now (directly or through a group)")
            found.append(
                f"max_removal_fraction: the plan {'removes ' + str(count) if losses.plain else _taking(losses, diff)}"
                f" of the {losses.base} {held} ({share:.0%}), more than max_removal_fraction={fraction}. Check the "
                f"desired table; if intended, pass max_removal_fraction={needed} for this run"
            )
    return found


def _taking(losses: Losses, diff: Diff) -> str:
    """What the plan takes away, as people read it."""
    if losses.phrase is not None:
        return losses.phrase.format(n=losses.count)
    if losses.plain:
        return f"removes {losses.count}"
    groups = "; ".join(f"group {d['subject_name']} loses {d['role_name']} on {d['division_name']}: {d['lose']} "
                       f"active member(s) lose it" for d in losses.details[:3])
    more = f" and {len(losses.details) - 3} more group grant(s)" if len(losses.details) > 3 else ""
    return (f"takes access away {losses.count} time(s) ({losses.removals} removal(s); a group's grant counts once "
            f"per active member who loses the role: {groups}{more})")


def _protected(diff: Diff, protected: Protected, label) -> list[str]:
    """One line per kind of protection the plan breaks: the counts, the first three subjects, the override."""
    firsts = {s: diff.spill.first_change(s) for s in protected.why}
    touched = sorted((s for s, first in firsts.items() if first is not None), key=firsts.__getitem__)
    listed = [s for s in touched if protected.why[s].startswith("listed")]
    own = [s for s in touched if s not in listed]
    found = []
    if listed:
        found.append(f"protected_subjects: the plan changes {len(listed)} subject(s) listed in protected_subjects "
                     f"{_touching(diff, listed, label)}; remove their rows or their managed grants from the scope, "
                     "or drop them from protected_subjects for this run")
    if own:
        found.append(f"protected_subjects: the plan changes {len(own)} of the connection's own identities, which "
                     f"are always protected {_touching(diff, own, label, protected.why)}; these have no override: "
                     "change them by hand, never through a sync (or plan through a connection whose token is "
                     "another user's or client's)")
    return found


def _touching(diff: Diff, subjects: list[str], label, why: dict[str, str] | None = None) -> str:
    """``(C change(s), R removal(s)): a, b, c and K more``, each subject with why it is protected when given."""
    counted = [diff.spill.change_counts(s) for s in subjects]
    changes, removals = sum(c for c, _ in counted), sum(r for _, r in counted)
    names = [f"{label(s)} ({why[s].removesuffix(' (always protected)')})" if why else label(s)
             for s in subjects[:3]]
    more = f" and {len(subjects) - 3} more" if len(subjects) > 3 else ""
    return f"({changes} change(s), {removals} removal(s)): {', '.join(names)}{more}"


def _admins(diff: Diff, current: CurrentState, rails: Guardrails, label) -> list[str]:
    """Admin roles (``*`` permissions) left with too few active holders, however the relation takes them
    away (removing grants, deactivating users, removing members of a group holding one: its
    ``admin_effect``).

    Only changes that can move an admin count are read back from the spill: grants of the admin roles
    removals touch, members of groups holding an admin role; a user's new state is looked up per holder.
    """
    authz = current if not diff.spec.needs_authz else current.authz
    if authz is None or not authz.admin_roles:
        return []
    effect = diff.spec.admin_effect(diff, authz)
    if effect is None:
        return []
    state_after = effect.state_after or authz.user_states.get
    found = []
    for role in sorted(effect.roles):
        before_n = _active_holders(authz, role, {}, authz.user_states.get, {})
        after_n = _active_holders(authz, role, effect.held_after, state_after, effect.groups_after)
        if after_n < rails.min_admins and after_n < before_n:
            found.append(
                f"min_admins: role {label(role)} holds * permissions and would keep {after_n} active holder(s) "
                f"(now {before_n}), fewer than min_admins={rails.min_admins}. Keep at least "
                f"{rails.min_admins} admins in the desired table; if intended, pass min_admins={after_n} for this run"
            )
    return found


def _active_holders(authz: CurrentState, role: str, held_after: dict[str, set[Target]],
                    state_of: Callable[[str, str], str | None], groups_after: dict[str, set[str]]) -> int:
    """How many active users hold ``role`` (any division), directly or through a group: ``authz`` with the
    subjects in ``held_after`` and ``groups_after`` holding those instead, each user in ``state_of``."""
    def held(subject: str) -> set[Target]:
        return held_after[subject] if subject in held_after else authz.held.get(subject, set())

    def holds(subject: str) -> bool:
        return any(t[0] == role for t in held(subject))

    def groups_of(user: str) -> set[str]:
        return groups_after[user] if user in groups_after else authz.user_groups.get(user, set())

    groups = {s for s, kind in authz.subject_types.items() if kind == "group" and holds(s)}
    candidates = chain(authz.held, (u for u in authz.user_groups if u not in authz.held),
                       (u for u in chain(held_after, groups_after)
                        if u not in authz.held and u not in authz.user_groups))
    holders = set()
    for user in candidates:
        if authz.subject_types.get(user) != "user" or not (holds(user) or groups_of(user) & groups):
            continue
        if state_of(user, "active") == "active":
            holders.add(user)
    return len(holders)


def _roleless(diff: Diff, current: CurrentState, rails: Guardrails, label) -> list[str]:
    if not diff.spec.roleless_rule or rails.allow_roleless or not diff.count("remove"):
        return []
    left, names = 0, []
    for subject, changes in diff.changes_by_subject():  # a subject's changes at a time, never the plan's
        if all(c.action != "remove" for c in changes):
            continue  # without a removal it keeps what it holds
        after = current.after(changes)[subject]
        if not after and current.held.get(subject) \
                and not any(current.held.get(g) for g in current.user_groups.get(subject, ())):
            left += 1
            if len(names) < 10:
                names.append(label(subject))
    if not left:
        return []
    more = f" and {left - 10} more" if left > 10 else ""
    return [f"allow_roleless: the plan leaves {left} subject(s) with no roles at all ({', '.join(names)}{more}). "
            "Give them a role in the desired table (or leave their roles unmanaged); if intended, pass "
            "allow_roleless=True for this run"]


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
