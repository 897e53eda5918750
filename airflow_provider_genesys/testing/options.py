"""Every emulator option, declared once: name, type, default, allowed values and help text.

``Settings`` is the one declaration. From its fields come the command's flags (``emulator.py``: the field
name with dashes), the keyword arguments of ``GenesysCloudEmulator`` (and their signature), the checks of
a value, and the options table of docs/emulator.md (:func:`options_table`; ``tests/emulator/
test_options.py`` fails when the doc and this file disagree, and
``python -m airflow_provider_genesys.testing.options docs/emulator.md`` rewrites the table).

To add an option: one field here with :func:`option` (help text in Markdown), then read it from
``context.settings`` in the area module that uses it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

TABLE_START = "<!-- options table: generated from testing/options.py -->"
TABLE_END = "<!-- end of options table -->"
FAULT_ROW = (
    "| `--fault KIND[:k=v,...]` | `emu.faults.add(...)` | none | schedule a fault (repeatable), e.g. "
    "`status:status=503,count=3`, `rate_limit:retry_after=2,count=always` |"
)


def option(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] = (),
    minimum: float | None = None,
    maximum: float | None = None,
    required: bool = False,
) -> Any:
    """A ``Settings`` field: its default and what ``--help`` and the docs say about it.

    :param choices: the only values accepted (for behaviours Genesys does not publish).
    :param minimum: the smallest value accepted (``None`` stays allowed for optional limits).
    :param maximum: the largest value accepted.
    :param required: an empty string is refused.
    """
    return field(default=default, metadata={"help": help, "choices": choices, "minimum": minimum,
                                            "maximum": maximum, "required": required})


@dataclass(frozen=True)
class Settings:
    """Every emulator option: the CLI flags and the context manager's keyword arguments."""

    # In --help and docs order; a new option goes at the end (or beside its area's options).
    host: str = option("127.0.0.1", "address to bind")
    port: int = option(0, "port to bind; `0` picks a free one", minimum=0)
    users: int = option(200, "generated users (~85% active, ~10% inactive, ~5% deleted)", minimum=0)
    seed: int = option(1, "org seed: the same seed gives the same ids, names and grants")
    client_id: str = option("emulator-client", "the one OAuth client id accepted", required=True)
    client_secret: str = option("emulator-secret", "its secret (a fixed test value)", required=True)
    token_ttl: int = option(
        86400, "access-token lifetime in seconds (`expires_in`); then 401 `credentials.expired`", minimum=1
    )
    rate_limit: int = option(
        300, "API requests allowed per token per window; then 429 with `Retry-After`", minimum=1
    )
    rate_window: float = option(
        60.0, "rate-limit window in seconds (also for `--token-rate-limit`)", minimum=0.001
    )
    latency_ms: int = option(0, "delay added to every answer, in milliseconds", minimum=0)
    token_rate_limit: int | None = option(
        None, "token creations allowed per window (`None`: off); then 400 `invalid_request`", minimum=1
    )
    job_seconds: float = option(
        2.0, "time an audit query takes Queued -> Running -> Succeeded (`0`: done when first polled)", minimum=0
    )
    path_prefix_login: str = option("", "gateway path before `/oauth/token`")
    path_prefix_api: str = option("", "gateway path before `/api/v2`")
    job_polls: int | None = option(
        None,
        "instead of `--job-seconds`: the number of status reads an audit query answers Queued/Running "
        "before its final state (deterministic deferral tests)",
        minimum=0,
    )
    wildcard_grants: str = option(
        "grants",
        "what `GET /api/v2/authorization/divisions/*/grants` answers: `grants` (200 with the all-division "
        "grants), `empty` (200, no entities), `400` or `404` (see \"Where Genesys publishes nothing\")",
        choices=("grants", "empty", "400", "404"),
    )
    users_cap: str = option(
        "all",
        "the 10,000-result cap of `GET /api/v2/users` applies to `inactive` only or to `all` states",
        choices=("inactive", "all"),
    )
    users_query: str = option(
        "allowed",
        "`GET /api/v2/users/query` is `allowed` or `forbidden` (403: the client lacks "
        "`directory:user:view` in some division)",
        choices=("allowed", "forbidden"),
    )
    expand: str = option(
        "honoured",
        "`expand` values are `honoured` or `dropped` (Genesys resolves them best effort)",
        choices=("honoured", "dropped"),
    )
    expand_missing_percent: int = option(
        0,
        "with `expand` honoured, this share of users (the same users every time, from the seed) come back "
        "from the users and group-member listings without any expanded field (`skills`, `languages`, "
        "`groups`, ...): best effort that fails for some users only",
        minimum=0,
        maximum=100,
    )
    org_rate_limit: int | None = option(
        None,
        "API requests allowed per window across every token of the org (`None`: off); then 429 while the "
        "token's own `inin-ratelimit-*` headers still show room",
        minimum=1,
    )
    rate_limit_body: str = option(
        "plain",
        "the 429 body: `plain` (Genesys' normalised body) or `limit` (it also names the limit that refused "
        "the request, see [Rate limits](#rate-limits))",
        choices=("plain", "limit"),
    )
    conversations_per_day: int = option(
        200,
        "conversations in each UTC day of the generated analytics history (see \"Analytics and routing\")",
        minimum=0,
    )
    oauth_clients: int = option(
        5,
        "generated OAuth clients; past the five described in \"Ground truth\", numbered copies of them (their "
        "grants too)",
        minimum=0,
    )
    oauth_clients_listing: str = option(
        "whole",
        "what `GET /api/v2/oauth/clients` (an operation without query parameters) answers: `whole` (every "
        "client in one answer, parameters ignored), `paged` (25 a page, `nextUri` to the next) or `strict` "
        "(`whole`, and 400 to any query parameter); see \"Where Genesys publishes nothing\"",
        choices=("whole", "paged", "strict"),
    )
    queues: int = option(10, "routing queues; their members are drawn from the active users", minimum=1)
    wrapup_codes: int = option(20, "routing wrap-up codes", minimum=1)
    analytics_page_size: int = option(
        1000,
        "default and largest `pageSize` of analytics job results (Genesys publishes neither: an option, and "
        "the extract follows `cursor` whatever it is)",
        minimum=1,
    )
    analytics_max_jobs: int | None = option(
        10,
        "unfinished (QUEUED/PENDING) analytics jobs allowed at once; one more submission gets 429 with "
        "`Retry-After: 2` (limit value unconfirmed)",
        minimum=1,
    )
    data_lag_seconds: float = option(
        0.0,
        "`dataAvailabilityDate` trails the emulator clock by this many seconds (tests pin it with "
        "`emu.analytics.jobs.set_availability(...)`)",
        minimum=0,
    )
    in_progress_minutes: float = option(
        0.0,
        "a conversations job whose interval ended less than this many minutes before the clock returns the "
        "conversations not ended at the clock in progress (no `conversationEnd`, partial segments); `0`: every "
        "conversation is complete",
        minimum=0,
    )
    propagation_delay_seconds: float = option(
        0.0,
        "an accepted write (grants, group and queue members, user state) shows in reads, `emu.org` and the "
        "audit log this many seconds of the emulator clock after it was answered (see \"Writes\")",
        minimum=0,
    )
    new_subject_404_seconds: float = option(
        0.0,
        "a user added while the emulator runs answers 404 (and is unknown in write bodies) for this many "
        "seconds of the emulator clock after it was created",
        minimum=0,
    )
    version_conflict: str = option(
        "409",
        "how a group-members or user write with a stale `version` is refused: `409` (`conflict`) or `400` "
        "(`bad.request`, message \"... does not match the current version\": Genesys' Terraform provider "
        "retries both)",
        choices=("409", "400"),
    )
    routing_write_conflict_seconds: float = option(
        0.0,
        "a write to a user's routing skills or languages less than this many seconds of the emulator clock "
        "after the previous one to that user is refused as a concurrent change (`version_conflict`: 409 or "
        "400 \"does not match the current version\", which Genesys' Terraform provider retries); `0`: off",
        minimum=0,
    )
    division_move_max: int | None = option(
        None,
        "the most object ids `POST /api/v2/authorization/divisions/{divisionId}/objects/USER` takes per call "
        "(Genesys publishes none; `None`: no limit); more answer 400 `bad.request` naming the limit",
        minimum=1,
    )
    role_grant_max_subjects: int | None = option(
        None,
        "the most `subjectIds` `POST /api/v2/authorization/roles/{roleId}` takes per call (Genesys publishes "
        "none; `None`: no limit); more answer 400 `bad.request` naming the limit",
        minimum=1,
    )
    token_user: str = option(
        "",
        "the user behind user tokens (SAML2 bearer, authorization code and their refreshes, "
        "`emu.issue_token(grant_type=...)`): a user id; empty: the first active user. `GET /api/v2/users/me` "
        "answers that user",
    )
    users_me_client: str = option(
        "400",
        "what `GET /api/v2/users/me` answers a client-credentials token (the SDK says only that the request "
        "\"is not valid when using the Client Credentials OAuth grant\"): `400` `bad.request`, `403` "
        "`not.authorized` or `404` `not.found`",
        choices=("400", "403", "404"),
    )

    def __post_init__(self) -> None:
        """Check every value against its declaration; a float option given an int becomes a float."""
        hints = get_type_hints(type(self))
        for spec in fields(self):
            value = getattr(self, spec.name)
            if hints[spec.name] in (float, float | None) and isinstance(value, int):
                object.__setattr__(self, spec.name, value := float(value))
            problem = _problem(spec, value)
            if problem:
                raise ValueError(f"{spec.name} {problem}; got {value!r}")


def _problem(spec: Field[Any], value: Any) -> str | None:
    meta = spec.metadata
    if meta["choices"] and value not in meta["choices"]:
        return f"must be one of {', '.join(meta['choices'])}"
    if meta["required"] and not value:
        return "must be a non-empty string"
    if meta["minimum"] is not None and value is not None and value < meta["minimum"]:
        return f"must be >= {meta['minimum']:g}"
    if meta["maximum"] is not None and value is not None and value > meta["maximum"]:
        return f"must be <= {meta['maximum']:g}"
    return None


def option_fields() -> tuple[Field[Any], ...]:
    """The declarations, in the order ``--help`` and the docs list them."""
    return fields(Settings)


def value_type(spec: Field[Any]) -> type:
    """The type a CLI string converts to (``int`` for ``int | None``)."""
    hint = get_type_hints(Settings)[spec.name]
    return next(t for t in (int, float, str) if hint in (t, t | None))


def default_of(spec: Field[Any]) -> Any:
    return None if spec.default is MISSING else spec.default


def shown_default(value: Any) -> str:
    """A default as ``--help`` and docs/emulator.md show it (``None`` is off, ``""`` none, ``60.0`` 60)."""
    if value is None:
        return "off"
    if value in ("", []):
        return "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def plain_help(spec: Field[Any]) -> str:
    """The help text without Markdown, for ``--help``."""
    return re.sub(r"\[([^]]+)\]\([^)]+\)", r"\1", spec.metadata["help"]).replace("`", "")


def options_table() -> str:
    """docs/emulator.md's options table (Markdown), from the declarations."""
    rows = ["| flag | argument | default | meaning |", "|---|---|---|---|"]
    for spec in option_fields():
        default = shown_default(default_of(spec))
        shown = default if default in ("off", "none") else f"`{default}`"
        flag = "--" + spec.name.replace("_", "-")
        rows.append(f"| `{flag}` | `{spec.name}` | {shown} | {spec.metadata['help']} |")
    rows.append(FAULT_ROW)
    return "\n".join(rows)


def table_in(doc: str) -> str | None:
    """The options table between the markers of a document (``None`` when the markers are missing)."""
    start, end = doc.find(TABLE_START), doc.find(TABLE_END)
    return doc[start + len(TABLE_START) : end].strip("\n") if 0 <= start < end else None


def rewrite(path: Path) -> bool:
    """Replace the table between the markers in ``path`` with :func:`options_table`; ``True`` if it changed."""
    doc = path.read_text(encoding="utf-8")
    if table_in(doc) is None:
        raise ValueError(f"{path} has no {TABLE_START} ... {TABLE_END} markers")
    head, rest = doc.split(TABLE_START, 1)
    new = f"{head}{TABLE_START}\n{options_table()}\n{TABLE_END}{rest.split(TABLE_END, 1)[1]}"
    path.write_text(new, encoding="utf-8")
    return new != doc


if __name__ == "__main__":  # python -m airflow_provider_genesys.testing.options docs/emulator.md
    if len(sys.argv) == 2:
        print("rewritten" if rewrite(Path(sys.argv[1])) else "up to date")
    else:
        print(options_table())
