"""Scan a test run's whole output for the secrets it used; exit 1 (and say where) when one is found.

``python -m tests.compat.scan --secrets SECRETS_FILE FOLDER [FOLDER ...]`` reads every file under the folders
(pytest's output, each ``airflow dags test`` stdout and stderr, the task logs and the SQLite metadata database,
which holds XCom and rendered fields) as bytes, and looks for every value of ``SECRETS_FILE``
(``<kind>\\t<value>`` lines: the emulator's client secret and every access and refresh token it issued, and
what the tests put into connections).

One kind of line is let through and counted, never hidden: Airflow's in-process runner (``airflow dags test``)
logs at DEBUG every ``MaskSecret`` message it receives, value included, and Airflow's own connection lookup
sends the connection's password and extra that way on every release up to 3.3.2. A value the tests put into a
connection (kind ``connection``) is allowed on such a line; a token the emulator issued is not: the provider
registers those without that message (``_compat.mask_secret_quietly``).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

# Shorter values would match by chance (and none of the tests' secrets is that short).
MIN_SECRET_LENGTH = 8
UPSTREAM_MARKERS = (b"Sending request", b"MaskSecret(value=")


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    kinds: tuple[str, ...]
    upstream: bool  # Airflow's own DEBUG line of a connection value (allowed, counted)

    def describe(self) -> str:
        what = "Airflow's own MaskSecret DEBUG line" if self.upstream else "LEAK"
        return f"{what}: {'/'.join(self.kinds)} in {self.path}:{self.line}"


def load_secrets(path: Path) -> dict[str, set[str]]:
    """Value -> kinds from a secrets file (a value may be both a client secret and a connection's password)."""
    secrets: dict[str, set[str]] = defaultdict(set)
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            kind, _, value = line.partition("\t")
            if len(value) >= MIN_SECRET_LENGTH:
                secrets[value].add(kind)
    return dict(secrets)


def scan(folders: list[Path], secrets: dict[str, set[str]]) -> tuple[list[Finding], int]:
    """Every occurrence of every secret in every file under ``folders``; also the number of files read."""
    needles = {value.encode(): tuple(sorted(kinds)) for value, kinds in secrets.items()}
    findings: list[Finding] = []
    files = 0
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            files += 1
            data = path.read_bytes()
            if not any(needle in data for needle in needles):
                continue
            for number, line in enumerate(data.splitlines(), 1):
                for needle, kinds in needles.items():
                    if needle in line:
                        upstream = "connection" in kinds and all(marker in line for marker in UPSTREAM_MARKERS)
                        findings.append(Finding(path, number, kinds, upstream))
    return findings, files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--secrets", type=Path, required=True, help="the <kind>\\t<value> file of the run")
    parser.add_argument("folders", type=Path, nargs="+", help="folders whose every file is read")
    args = parser.parse_args(argv)
    secrets = load_secrets(args.secrets)
    if not secrets:
        print(f"secret scan: no secrets recorded in {args.secrets}: nothing to look for, which is a failure")
        return 1
    findings, files = scan(args.folders, secrets)
    leaks = [f for f in findings if not f.upstream]
    upstream = len(findings) - len(leaks)
    for finding in leaks[:50]:
        print(finding.describe())
    kinds = sorted({kind for kinds in secrets.values() for kind in kinds})
    verdict = f"{len(leaks)} found" if leaks else "none found"
    print(f"secret scan: {len(secrets)} secrets ({', '.join(kinds)}) in {files} files: {verdict}"
          f" ({upstream} of Airflow's own MaskSecret DEBUG lines of connection values)")
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
