"""Guardrails: small rules over a diff, each refusing the plan with the rule, the numbers and the override.

They run when the plan is made (and :func:`check_plan_age` when it is applied), so a refused plan changes
nothing. Every rule that fails is reported, not only the first. Overrides are arguments of one run (the
operator's, or a DAG run's params): a rule is loosened on purpose, for the run that needs it, never by
default.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from airflow_provider_genesys.access.diff import Diff
from airflow_provider_genesys.access.errors import GuardrailError, PlanError
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
          label=str) -> None:
    """Raise :class:`GuardrailError` naming every rule the diff breaks; return when all hold."""
    violations = [
        *_removals(diff, rails),
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


def _removals(diff: Diff, rails: Guardrails) -> list[str]:
    removals = len(diff.removes)
    found = []
    if rails.max_removals is not None and removals > rails.max_removals:
        found.append(
            f"max_removals: the plan removes {removals}, more than max_removals={rails.max_removals}. Check "
            f"the desired table; if the removals are intended, pass max_removals={removals} for this run"
        )
    fraction = rails.max_removal_fraction
    if fraction is not None and removals > FRACTION_FLOOR and diff.managed_held:
        share = removals / diff.managed_held
        if share > fraction:
            needed = math.ceil(share * 100) / 100
            found.append(
                f"max_removal_fraction: the plan removes {removals} of the {diff.managed_held} managed "
                f"{_held_word(diff)} ({share:.0%}), more than max_removal_fraction={fraction}. Check the desired "
                f"table; if intended, pass max_removal_fraction={needed} for this run"
            )
    return found


def _protected(diff: Diff, protected: Protected, label) -> list[str]:
    """One line per kind of protection the plan breaks: the counts, the first three subjects, the override."""
    listed = [s for s in diff.subjects if protected.why.get(s, "").startswith("listed")]
    own = [s for s in diff.subjects if s in protected.why and s not in listed]
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
    chosen = set(subjects)
    changes = [c for c in diff.changes if c.subject in chosen]
    removals = sum(c.action == "remove" for c in changes)
    names = [f"{label(s)} ({why[s].removesuffix(' (always protected)')})" if why else label(s)
             for s in subjects[:3]]
    more = f" and {len(subjects) - 3} more" if len(subjects) > 3 else ""
    return f"({len(changes)} change(s), {removals} removal(s)): {', '.join(names)}{more}"


def _after(current: CurrentState, diff: Diff) -> dict[str, set[Target]]:
    """What each touched subject holds directly once the changes are made."""
    after = {s: set(current.held.get(s, ())) for s in diff.subjects}
    for change in diff.changes:
        if change.action == "remove":
            after[change.subject].discard(change.target)
        else:
            after[change.subject].add(change.target)
    return after


def _admins(diff: Diff, current: CurrentState, rails: Guardrails, label) -> list[str]:
    """Admin roles (``*`` permissions) left with too few active holders: by removing grants, deactivating
    users (``user_state``) or removing members of a group holding an admin role (``group_members``)."""
    authz = current if diff.relation == "grants" else current.authz
    if authz is None or not authz.admin_roles:
        return []
    held, states, groups = authz.held, authz.user_states, authz.user_groups
    if diff.relation == "grants":
        roles = {c.target[0] for c in diff.removes} & authz.admin_roles
        held = {**authz.held, **_after(authz, diff)}
    elif diff.relation == "user_state":
        roles = set(authz.admin_roles) if any(c.target == ("inactive",) for c in diff.changes) else set()
        states = {**states, **{c.subject: c.target[0] for c in diff.changes}}
    elif diff.relation == "group_members":
        roles = set(authz.admin_roles) if diff.removes else set()
        groups = {user: set(ids) for user, ids in groups.items()}
        for change in diff.changes:
            member_of = groups.setdefault(change.subject, set())
            if change.action == "remove":
                member_of.discard(change.target[0])
            else:
                member_of.add(change.target[0])
    else:
        return []
    found = []
    for role in sorted(roles):
        before_n = len(_active_holders(authz, role, authz.held, authz.user_states, authz.user_groups))
        after_n = len(_active_holders(authz, role, held, states, groups))
        if after_n < rails.min_admins and after_n < before_n:
            found.append(
                f"min_admins: role {label(role)} holds * permissions and would keep {after_n} active holder(s) "
                f"(now {before_n}), fewer than min_admins={rails.min_admins}. Keep at least "
                f"{rails.min_admins} admins in the desired table; if intended, pass min_admins={after_n} for this run"
            )
    return found


def _active_holders(authz: CurrentState, role: str, held: dict[str, set[Target]], states: dict[str, str],
                    user_groups: dict[str, set[str]]) -> set[str]:
    """Active users holding ``role`` (any division), directly or through a group."""
    def holds(subject: str) -> bool:
        return any(t[0] == role for t in held.get(subject, ()))

    groups = {s for s, kind in authz.subject_types.items() if kind == "group" and holds(s)}
    holders = set()
    for user in set(held) | set(user_groups):
        if authz.subject_types.get(user) != "user" or states.get(user, "active") != "active":
            continue
        if holds(user) or user_groups.get(user, set()) & groups:
            holders.add(user)
    return holders


def _roleless(diff: Diff, current: CurrentState, rails: Guardrails, label) -> list[str]:
    if diff.relation != "grants" or rails.allow_roleless or not diff.removes:
        return []
    after = _after(current, diff)
    left = [s for s, held in after.items()
            if not held and current.held.get(s)
            and not any(current.held.get(g) for g in current.user_groups.get(s, ()))]
    if not left:
        return []
    names = ", ".join(label(s) for s in left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
    return [f"allow_roleless: the plan leaves {len(left)} subject(s) with no roles at all ({names}). Give them "
            "a role in the desired table (or leave their roles unmanaged); if intended, pass allow_roleless=True "
            "for this run"]


def _held_word(diff: Diff) -> str:
    return {"grants": "grants", "group_members": "group memberships",
            "queue_members": "queue memberships"}.get(diff.relation, "entries")


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
