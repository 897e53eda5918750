"""Scriptable faults: 5xx bursts, dropped connections, truncated bodies, slow answers, 429 storms, token
revocation, org changes while a client pages, failing audit jobs, trickled answers and redirects.

    emu.faults.status(503, count=2)                     # the next two API requests get 503
    emu.faults.drop(path=r"/api/v2/users$")              # close the connection without an answer
    emu.faults.org_change(remove=5, after=1, path=r"/api/v2/users$")  # delete 5 users after page 1
    emu.faults.job_state("Failed")                       # the next audit query fails
    emu.faults.trickle(ms=50)                            # the next answer's body, a byte every 50 ms
    emu.faults.redirect("http://127.0.0.1:9/x", path=r"^/oauth/token$")  # 307 to another host
    emu.faults.write_applied_then_5xx(503, method="POST", path=r"/bulkadd$")  # applied, answered 503
    emu.faults.write_applied_then_cut(method="PATCH")    # applied, connection closed without an answer

A fault matches requests whose method (if given) and path (a regex searched in the path without gateway
prefix; default: every ``/api/v2/`` request) match. It lets ``after`` matching requests through, then
fires on the next ``count`` ones (``count=None``: until cleared). Each matching fault fires independently.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "status", "drop", "truncate", "slow", "rate_limit", "revoke_tokens", "org_change", "job_state",
    "trickle", "redirect", "write_applied_then_5xx", "write_applied_then_cut",
)
DEFAULT_PATH = r"^/api/v2/"
_OPTIONS: dict[str, dict[str, Any]] = {
    "status": {"status": 503},
    "drop": {},
    "truncate": {"mode": "cut"},
    "slow": {"ms": 1000},
    "rate_limit": {"retry_after": 1},
    "revoke_tokens": {},
    "org_change": {"add": 0, "remove": 0, "deactivate": 0},
    "job_state": {"state": "Failed"},
    # Send the answer one byte at a time, `ms` apart: the body, or the status line and headers too.
    "trickle": {"ms": 100, "part": "body"},
    # Answer `status` with a Location: an absolute URL (another host) or a path on the emulator itself.
    "redirect": {"status": 307, "location": ""},
    # The request is handled (a write is applied), then the answer is replaced by `status` / never sent.
    "write_applied_then_5xx": {"status": 503},
    "write_applied_then_cut": {},
}
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


@dataclass
class Fault:
    """One scripted fault; ``fired`` tells a test how often it actually happened."""

    kind: str
    count: int | None
    path: re.Pattern[str]
    method: str | None
    after: int
    options: dict[str, Any]
    seen: int = 0
    fired: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def _take(self, method: str, path: str) -> bool:
        if (self.method and self.method != method) or not self.path.search(path):
            return False
        with self._lock:
            if self.exhausted:
                return False
            self.seen += 1
            if self.seen <= self.after:
                return False
            self.fired += 1
            return True


def _validate(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    if kind not in _OPTIONS:
        raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}")
    unknown = set(options) - set(_OPTIONS[kind])
    if unknown:
        raise ValueError(
            f"fault {kind!r} takes no option(s) {', '.join(sorted(unknown))}; "
            f"its options are: {', '.join(_OPTIONS[kind]) or 'none'}"
        )
    merged = {**_OPTIONS[kind], **options}
    if kind == "status" and not 400 <= int(merged["status"]) <= 599:
        raise ValueError(f"fault 'status' needs an HTTP error status 400-599; got {merged['status']}")
    if kind == "truncate" and merged["mode"] not in ("cut", "invalid_json"):
        raise ValueError(f"fault 'truncate' mode must be 'cut' or 'invalid_json'; got {merged['mode']!r}")
    if kind == "job_state" and merged["state"] not in ("Failed", "Cancelled"):
        raise ValueError(f"fault 'job_state' state must be 'Failed' or 'Cancelled'; got {merged['state']!r}")
    if kind == "trickle" and (merged["part"] not in ("body", "all") or int(merged["ms"]) < 0):
        raise ValueError(f"fault 'trickle' needs ms >= 0 and part 'body' or 'all'; got {merged}")
    if kind == "redirect" and (int(merged["status"]) not in REDIRECT_STATUSES or not merged["location"]):
        raise ValueError(
            f"fault 'redirect' needs status in {REDIRECT_STATUSES} and a location (URL or path); got {merged}"
        )
    if kind == "write_applied_then_5xx" and not 500 <= int(merged["status"]) <= 599:
        raise ValueError(f"fault 'write_applied_then_5xx' needs a status 500-599; got {merged['status']}")
    if kind == "org_change" and not (int(merged["add"]) or int(merged["remove"]) or int(merged["deactivate"])):
        raise ValueError("fault 'org_change' needs add=N, remove=N and/or deactivate=N")
    return merged


class Faults:
    """The emulator's fault schedule (thread safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        *,
        count: int | None = 1,
        path: str | None = None,
        method: str | None = None,
        after: int = 0,
        **options: Any,
    ) -> Fault:
        """Schedule a fault; see the module docstring for matching. Returns it (read ``.fired``)."""
        merged = _validate(kind, options)
        if count is not None and count < 1:
            raise ValueError(f"fault count must be >= 1 or None (forever); got {count}")
        fault = Fault(kind, count, re.compile(path or DEFAULT_PATH), method and method.upper(), after, merged)
        with self._lock:
            self._faults.append(fault)
        return fault

    def status(self, status: int = 503, **kw: Any) -> Fault:
        return self.add("status", status=status, **kw)

    def drop(self, **kw: Any) -> Fault:
        return self.add("drop", **kw)

    def truncate(self, mode: str = "cut", **kw: Any) -> Fault:
        return self.add("truncate", mode=mode, **kw)

    def slow(self, ms: int = 1000, **kw: Any) -> Fault:
        return self.add("slow", ms=ms, **kw)

    def rate_limit(self, retry_after: int = 1, **kw: Any) -> Fault:
        return self.add("rate_limit", retry_after=retry_after, **kw)

    def revoke_tokens(self, **kw: Any) -> Fault:
        return self.add("revoke_tokens", **kw)

    def org_change(self, add: int = 0, remove: int = 0, deactivate: int = 0, **kw: Any) -> Fault:
        """Delete ``remove`` and deactivate ``deactivate`` active users (first in listing order), then add
        ``add`` active users."""
        return self.add("org_change", add=add, remove=remove, deactivate=deactivate, **kw)

    def job_state(self, state: str = "Failed", **kw: Any) -> Fault:
        kw.setdefault("path", r"^/api/v2/audits/query$")
        kw.setdefault("method", "POST")
        return self.add("job_state", state=state, **kw)

    def trickle(self, ms: int = 100, part: str = "body", **kw: Any) -> Fault:
        return self.add("trickle", ms=ms, part=part, **kw)

    def redirect(self, location: str, status: int = 307, **kw: Any) -> Fault:
        return self.add("redirect", location=location, status=status, **kw)

    def write_applied_then_5xx(self, status: int = 503, **kw: Any) -> Fault:
        """The request is handled as usual (a write lands in the org), but answered ``status``."""
        return self.add("write_applied_then_5xx", status=status, **kw)

    def write_applied_then_cut(self, **kw: Any) -> Fault:
        """The request is handled as usual (a write lands in the org), then the connection is closed
        without an answer."""
        return self.add("write_applied_then_cut", **kw)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if not f.exhausted]

    def take(self, method: str, path: str) -> list[Fault]:
        """The faults that fire on this request (each consumes one of its ``count``)."""
        with self._lock:
            candidates = list(self._faults)
        return [f for f in candidates if f._take(method, path)]


def parse_fault_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Parse the CLI form ``kind[:key=value,...]`` (``count=always`` means until stopped)."""
    kind, _, rest = spec.partition(":")
    options: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"fault option {part!r} in {spec!r} must look like key=value")
        key = key.strip()
        value = value.strip()
        if key == "count" and value == "always":
            options[key] = None
        elif value.lstrip("-").isdigit():
            options[key] = int(value)
        else:
            options[key] = value
    _validate(
        kind.strip(), {k: v for k, v in options.items() if k not in ("count", "path", "method", "after")}
    )
    return kind.strip(), options
