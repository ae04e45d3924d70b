"""`ai-bot backup` on a MySQL/MariaDB store: mysqldump (or mariadb-dump) in one consistent
snapshot, the password passed in MYSQL_PWD rather than on a command line others can read."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from aibot.cli.common import console, fail, tr


def mysql_dump(storage_url: str, target: Path) -> None:
    url = make_url(storage_url)
    tool = shutil.which("mariadb-dump") or shutil.which("mysqldump")
    command = [
        tool or "mysqldump",
        "--single-transaction",  # a consistent snapshot of InnoDB without locking the gateway
        "--default-character-set=utf8mb4",
        f"--host={url.host or '127.0.0.1'}",
        f"--port={url.port or 3306}",
        f"--user={url.username or 'root'}",
        f"--result-file={target}",
        url.database or "",
    ]
    restore_hint = tr(
        "restore with: mysql --user=… {database} < {target}",
        database=url.database or "",
        target=str(target),
    )
    if tool is None:
        advice = tr(
            "MySQL/MariaDB: install the client (apt-get install mariadb-client) and run:\n"
            "  MYSQL_PWD=… {command}\n{hint}",
            command=" ".join(command),
            hint=restore_hint,
        )
        console.print(advice, highlight=False, markup=False)
        return
    env = {**os.environ, **({"MYSQL_PWD": url.password} if url.password else {})}
    result = subprocess.run(command, env=env, check=False)  # noqa: S603 - argv, no shell
    if result.returncode != 0:
        fail(
            tr("{tool} failed (exit {code})", tool=Path(command[0]).name, code=result.returncode),
            code=1,
        )
    os.chmod(target, 0o600)
    done = tr("backed up MySQL/MariaDB to {target} ({hint})", target=str(target), hint=restore_hint)
    console.print(done, highlight=False, markup=False)
