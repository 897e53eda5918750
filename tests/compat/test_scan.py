"""The secret scanner on files it is handed: what counts as a leak and what is Airflow's own DEBUG line."""

from __future__ import annotations

from pathlib import Path

from tests.compat.scan import load_secrets, main, scan

TOKEN = "tok-AAAAAAAAAAAAAAAAAAAA"
SECRET = "client-secret-BBBBBBBB"


def _secrets(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.tsv"
    path.write_text(f"access_token\t{TOKEN}\nclient_secret\t{SECRET}\nconnection\t{SECRET}\nconnection\tshort\n")
    return path


def test_a_token_anywhere_is_a_leak_even_on_airflows_mask_secret_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "logs" / "dag").mkdir(parents=True)
    (out / "run.stdout").write_text("ok\n")
    (out / "logs" / "dag" / "attempt=1.log").write_text(f"x\ny {TOKEN} z\n")
    (out / "airflow.db").write_bytes(b"\x00\x01" + SECRET.encode() + b"\x00")
    (out / "run.stderr").write_text(f"[debug] Sending request msg=MaskSecret(value='{TOKEN}', name=None)\n")
    findings, files = scan([out], load_secrets(_secrets(tmp_path)))
    leaks = sorted((f.path.name, f.line) for f in findings if not f.upstream)
    assert files == 4
    assert leaks == [("airflow.db", 1), ("attempt=1.log", 2), ("run.stderr", 1)]


def test_a_connection_value_on_airflows_own_mask_secret_line_is_counted_not_failed(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.stderr").write_text(f"[debug] Sending request msg=MaskSecret(value='{SECRET}', name=None)\n")
    assert main(["--secrets", str(_secrets(tmp_path)), str(out)]) == 0
    assert "none found (1 of Airflow's own MaskSecret DEBUG lines" in capsys.readouterr().out
    (out / "task.log").write_text(f"password is {SECRET}\n")
    assert main(["--secrets", str(_secrets(tmp_path)), str(out)]) == 1
    assert f"LEAK: client_secret/connection in {out / 'task.log'}:1" in capsys.readouterr().out


def test_short_values_are_not_looked_for_and_no_secrets_at_all_fails(tmp_path: Path) -> None:
    assert "short" not in load_secrets(_secrets(tmp_path))
    empty = tmp_path / "none.tsv"
    empty.write_text("")
    assert main(["--secrets", str(empty), str(tmp_path)]) == 1
