"""One Airflow process that runs the e2e tests' DAGs, one ``airflow dags test`` after the other.

Each ``airflow dags test`` in a new process spends 10-40 s starting (Airflow's imports, then the in-process
execution API before the first task) for runs of a few seconds. This process pays that once per session:
it reads one JSON request per line on stdin (``argv`` of the ``airflow`` CLI, ``env`` of the run, ``cwd``,
``log``), runs it with the CLI's own parser and command, as ``airflow dags test`` does, with the run's
environment (the Genesys connection of its emulator) and its output in ``log``, and answers ``{"rc": n}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback


def run(parser: argparse.ArgumentParser, request: dict) -> int:
    args = parser.parse_args(request["argv"])
    try:
        args.func(args)
    except SystemExit as exit_:  # the CLI's way to fail a run ("DagRun failed")
        return exit_.code if isinstance(exit_.code, int) else 1
    except Exception:  # the run failed: its traceback goes to its log
        traceback.print_exc()
        return 1
    return 0


def main() -> None:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # what Airflow prints outside a run must not reach the replies
    from airflow.cli import cli_parser

    parser = cli_parser.get_parser()
    session_env = dict(os.environ)
    for line in sys.stdin:
        request = json.loads(line)
        os.environ.clear()
        os.environ.update({**session_env, **request["env"]})
        os.chdir(request["cwd"])
        with open(request["log"], "w") as log:
            sys.stdout.flush()
            sys.stderr.flush()
            saved = os.dup(1), os.dup(2)
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                rc = run(parser, request)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                for fd, copy in enumerate(saved, start=1):
                    os.dup2(copy, fd)
                    os.close(copy)
        replies.write(json.dumps({"rc": rc}) + "\n")


if __name__ == "__main__":
    main()
