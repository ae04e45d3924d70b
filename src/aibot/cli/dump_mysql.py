"""`ai-bot backup` on a MySQL/MariaDB store: mysqldump (or mariadb-dump) in one consistent
snapshot, the password passed in MYSQL_PWD rather than on a command line others can read."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from aibot.cli.common import console, fail


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
    restore_hint = f"restore with: mysql --user=… {url.database} < {target}"
    if tool is None:
        console.print(
            "MySQL/MariaDB: install the client (apt-get install mariadb-client) and run:\n"
            f"  MYSQL_PWD=… {' '.join(command)}\n{restore_hint}",
            highlight=False,
            markup=False,
        )
        return
    env = {**os.environ, **({"MYSQL_PWD": url.password} if url.password else {})}
    result = subprocess.run(command, env=env, check=False)  # noqa: S603 - argv, no shell
    if result.returncode != 0:
        fail(f"{Path(command[0]).name} failed (exit {result.returncode})", code=1)
    os.chmod(target, 0o600)
    console.print(
        f"backed up MySQL/MariaDB to {target} ({restore_hint})", highlight=False, markup=False
    )
