"""One apply per plan at a time: a lock beside the ledger, and a lease beside a plan on object storage.

Two applies of one plan at once (a manual run beside a scheduled one, a task retry beside a zombie of the
previous try) would each read the ledger before the other wrote to it and send every write twice. So apply
holds, for its whole run:

- :class:`LedgerLock`: an exclusive ``flock`` on ``<ledger>.lock``. The kernel releases it when the holder's
  process ends, however it ends (``kill -9`` included), so a dead apply never blocks the rerun. The file
  says who holds it (host, pid, since) for the message the second apply fails with. It stays in place: a
  lock file deleted on release lets a waiter and a newcomer lock two different files.
- :class:`Lease`, for a plan on object storage, whose ledger lives on each worker's disk: numbered lease
  objects in ``<plan without .json>.lease/``, each created only if absent (``open(..., "xb")``: S3's
  ``If-None-Match: *``, GCS' ``ifGenerationMatch=0``, Azure's ``If-None-Match: *`` through s3fs, gcsfs and
  adlfs). The highest number is the lease; it expires unless renewed, so a crashed worker blocks the rerun
  for at most :data:`LEASE_SECONDS`. Taking over an expired lease, renewing and releasing are each the
  creation of the next number: two workers racing for it cannot both succeed, with no conditional overwrite
  or delete (which fsspec does not offer). A store that does not refuse creating an existing object makes
  the lease best effort; apply says so in its log (docs/access.md, "The ledger").

:class:`ApplyLockedError` is retryable (docs/decisions.md): the other apply finishes or its holder dies, and a
task retry then finds the work done in the ledger.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from airflow_provider_genesys.access.errors import GenesysAccessError
from airflow_provider_genesys.exceptions import GenesysCloudError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows; Airflow's workers run on Linux or macOS
    fcntl = None  # type: ignore[assignment]

UTC = timezone.utc  # datetime.UTC is Python 3.11+; the package supports 3.10

LEASE_SECONDS = 300.0  # a crashed worker's lease blocks the rerun for at most this long
RENEW_EVERY = 60.0  # the holder renews this often (a background thread, and before each ledger line when due)
BUSY = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)  # flock's "held by someone else" (EACCES: over SMB)


# What every "another apply is running" message says after naming the holder.
STOPPED = ("Two applies of one plan at once would send its writes twice, so this one stopped before sending "
           "anything. If that apply is still running, let it finish: a retry of this task then finds its work "
           "done in the ledger.")


class ApplyLockedError(GenesysCloudError):
    """Another apply of the same plan is running (or its lease has not expired): this one sent nothing.

    Unlike :class:`GenesysAccessError` it is retryable: a task retry succeeds once the other apply has ended.
    """


def _holder() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


class _Held:
    """``with``: acquire on entry, release on exit."""

    def acquire(self) -> Any:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()


def _who(record: dict[str, Any] | None, where: str) -> str:
    if not record:
        return f"an apply whose record {where} cannot be read"
    return f"host {record.get('host', '?')}, pid {record.get('pid', '?')}, since {record.get('since', '?')}"


class LedgerLock(_Held):
    """An exclusive ``flock`` on ``<ledger>.lock`` for the whole run (a context manager)."""

    def __init__(self, ledger: str | os.PathLike[str], plan: str) -> None:
        self.path = Path(f"{ledger}.lock")
        self.plan = plan
        self._fd: int | None = None

    def acquire(self) -> LedgerLock:
        if fcntl is None:  # pragma: no cover
            raise GenesysAccessError("apply's lock needs fcntl: run apply on a Linux or macOS worker")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opened for writing: NFS and SMB clients emulate flock with byte-range locks, which need it.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in BUSY:
                raise ApplyLockedError(self._busy()) from None
            raise GenesysAccessError(
                f"apply cannot lock {self.path} ({err}): its file system does not support locks; give ledger_path= "
                "on a local disk (or a mount with locking)"
            ) from None
        record = json.dumps({**_holder(), "since": _iso(time.time()), "plan": self.plan}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record + b"\n", 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the lock
            self._fd = None

    def _busy(self) -> str:
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
        record = record if isinstance(record, dict) else None
        return (
            f"Another apply of the plan {self.plan} is running: the lock {self.path} is held by "
            f"{_who(record, 'in ' + str(self.path))}. {STOPPED} If its process is gone, the lock is free already "
            "(the operating system releases it when its holder ends, even by kill -9): run apply again."
        )



def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _epoch(text: Any) -> float:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return float("inf")  # an expiry nobody can read never expires: the message names the object


class Lease(_Held):
    """A lease in ``folder`` on the fsspec file system ``fs``, held from :meth:`acquire` to :meth:`release`.

    ``check`` (the ledger's guard) raises :class:`ApplyLockedError` once this run no longer holds it, and
    renews it when due; a background thread renews it too, through reads and waits that write no ledger line.
    ``clock`` (epoch seconds) is the tests' way to let a lease expire.
    """

    def __init__(self, fs: Any, folder: str, plan: str, *, seconds: float = LEASE_SECONDS,
                 renew_every: float = RENEW_EVERY, clock: Callable[[], float] = time.time,
                 warn: Callable[[str], None] | None = None) -> None:
        self.fs, self.folder, self.plan = fs, folder.rstrip("/"), plan
        self.seconds, self.renew_every, self.clock = seconds, renew_every, clock
        self.warn = warn or (lambda message: None)
        self.token = uuid.uuid4().hex
        self.number = 0  # the lease object this run holds; 0: none
        self.since = ""
        self.expires = self.renewed = 0.0
        self.exclusive: bool | None = None  # whether the store refused to create an existing object (None: untried)
        self.lost: str | None = None
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def object(self, number: int) -> str:
        return f"{self.folder}/{number:010d}.json"

    # -- the run ----------------------------------------------------------------------------------------

    def acquire(self) -> Lease:
        try:
            self.fs.makedirs(self.folder, exist_ok=True)  # a no-op on object stores; a local folder needs it
            leases = self._leases()
            if leases:
                number, name = leases[-1]
                record = self._read(name)
                if self._live(record):
                    raise ApplyLockedError(self._busy(name, record))
            else:
                number = 0
            self.since = _iso(self.clock())
            self._claim(number + 1)
        except OSError as err:  # still retryable: a store that did not answer may next time
            raise OSError(f"apply cannot take its lease in {self.folder} beside the plan {self.plan} ({err}): it "
                          "needs to list, read, create and delete objects there") from err
        self._beat = threading.Thread(target=self._heartbeat, name=f"lease {self.folder}", daemon=True)
        self._beat.start()
        return self

    def check(self) -> None:
        """Raise if this run no longer holds the lease; renew it when due (before each ledger line)."""
        with self._mutex:
            if self.lost:
                raise ApplyLockedError(self.lost)
            now = self.clock()
            if now - self.renewed < self.renew_every:
                return
            try:
                self._claim(self.number + 1)
            except ApplyLockedError as err:
                self.lost = (f"This apply lost its lease on the plan {self.plan} (not renewed before it expired, "
                             f"and another apply took it over: {err}). It stopped before its next write; nothing "
                             "was sent twice. Let the other apply finish; a retry of this task then finds its work "
                             "done in the ledger.")
                raise ApplyLockedError(self.lost) from None
            except OSError as err:  # the store did not answer: try again later while the lease lasts
                if now >= self.expires:
                    self.lost = (f"This apply could not renew its lease {self.object(self.number)} on the plan "
                                 f"{self.plan} before it expired ({err}); it stopped before its next write.")
                    raise ApplyLockedError(self.lost) from None
                self.warn(f"could not renew the lease {self.object(self.number)} ({err}); trying again")

    def release(self) -> None:
        """End the lease: the next number, marked released, so the next apply need not wait for the expiry."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        with self._mutex:
            if self.number and not self.lost:
                try:
                    self._claim(self.number + 1, released=True)
                except (ApplyLockedError, OSError) as err:
                    self.warn(f"could not release the lease {self.object(self.number)} ({err}); it expires "
                              f"at {_iso(self.expires)}")

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.renew_every):
            try:
                self.check()
            except ApplyLockedError:
                return  # the next ledger line raises it
            except Exception as err:  # a store's own error type: keep beating while the lease lasts
                self.warn(f"could not renew the lease {self.object(self.number)} ({err!r}); trying again")

    # -- lease objects ----------------------------------------------------------------------------------

    def _claim(self, number: int, *, released: bool = False) -> None:
        """Create lease ``number``; it is ours if no one created it first and no higher one exists after it."""
        now = self.clock()
        record = {"lease": number, "plan": self.plan, **_holder(), "since": self.since,
                  "expires": _iso(now + self.seconds), "token": self.token}
        if released:
            record["released"] = _iso(now)
        name = self.object(number)
        if not self._create(name, json.dumps(record).encode()):
            raise ApplyLockedError(self._busy(name, self._read(name)))
        leases = self._leases()
        latest = leases[-1] if leases else (0, name)
        if latest[0] != number or (self._read(name) or {}).get("token") != self.token:
            raise ApplyLockedError(self._busy(latest[1], self._read(latest[1])))
        self.number, self.expires, self.renewed = number, now + self.seconds, now
        for older, old in leases:
            if older < number:
                with suppress(OSError):  # a lower number is never the lease; the next claim removes it
                    self.fs.rm_file(old)

    def _create(self, name: str, data: bytes) -> bool:
        """Create ``name`` if absent (False if it exists); find out once whether the store refuses duplicates."""
        try:
            with self.fs.open(name, "xb") as out:
                out.write(data)
        except FileExistsError:
            return False
        except OSError as err:
            if err.errno == errno.EBUSY:  # S3 answers 409 to a conditional write racing another on the key
                return False
            raise
        except (ValueError, NotImplementedError, TypeError) as err:  # no exclusive-create mode on this store
            self._unguarded(f"it has no exclusive-create mode ({err})")
            if self.fs.exists(name):
                return False
            with self.fs.open(name, "wb") as out:
                out.write(data)
            return True
        if self.exclusive is None:  # the same bytes again: harmless if the store lets it through
            try:
                with self.fs.open(name, "xb") as out:
                    out.write(data)
            except FileExistsError:
                self.exclusive = True
            else:
                self._unguarded("it let an existing object be created again")
        return True

    def _unguarded(self, why: str) -> None:
        if self.exclusive is not False:
            self.exclusive = False
            self.warn(f"The storage of {self.plan} cannot create an object only if it is absent ({why}): the lease "
                      f"in {self.folder} is best effort. Two applies started within a moment of each other may both "
                      "run; give ledger_path= on a volume every worker mounts to lock the ledger itself "
                      "(docs/access.md, \"The ledger\").")

    def _leases(self) -> list[tuple[int, str]]:
        self.fs.invalidate_cache(self.folder)  # listings are cached (s3fs, gcsfs): another worker's claim is new
        try:
            names = self.fs.ls(self.folder, detail=False)
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            stem = str(name).rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")
            if stem.isdigit():
                found.append((int(stem), str(name)))
        return sorted(found)

    def _read(self, name: str) -> dict[str, Any] | None:
        try:
            record = json.loads(self.fs.cat_file(name))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def _live(self, record: dict[str, Any] | None) -> bool:
        if record is None:
            return True  # unreadable: never assumed free (the message says what to do)
        return not record.get("released") and _epoch(record.get("expires")) > self.clock()

    def _busy(self, name: str, record: dict[str, Any] | None) -> str:
        if record is None:
            return (f"Another apply of the plan {self.plan} holds its lease {name}, which cannot be read. Two "
                    "applies of one plan at once would send its writes twice, so this one stopped before sending "
                    "anything. If no apply of this plan is running, delete that object and run apply again.")
        return (
            f"Another apply of the plan {self.plan} is running: its lease {name} is held by {_who(record, name)}, "
            f"renewed until {record.get('expires', '?')}. {STOPPED} If its worker died, the lease expires at that "
            "time and a retry after it proceeds."
        )


__all__ = ["LEASE_SECONDS", "RENEW_EVERY", "ApplyLockedError", "Lease", "LedgerLock"]
