"""Whether a config's data keys read everything a store holds: the verdict on the keys the
store says it uses, apart from how they were read, so the engine's read (store/data_keys.py)
and the plain `sqlite3` read of a start's store check (store/sqlite_file.py) say the same
thing in the same words. Imports no SQLAlchemy."""

from __future__ import annotations

from aibot.i18n import N_
from aibot.store.crypto import DataKeyError, Keyring

# The pseudo key of rows written before encryption was turned on (store/data_keys.py).
PLAIN_ID = "plain"
# What each key's row holds sealed with it: opening it proves the key.
CHECK = "ai-bot data key check"


def check_keys(in_use: dict[str, str | None], keyring: Keyring | None) -> None:
    """Raises DataKeyError, in words the operator can act on, unless `keyring` reads every
    key in `in_use` (key id → its check value, the keys not yet retired)."""
    sealed = sorted(k for k in in_use if k != PLAIN_ID)
    if keyring is None:
        if sealed:
            raise DataKeyError.of(
                N_(
                    "this database holds encrypted conversations (data key {keys}) but "
                    "storage.encryption is not set: configure the key they were encrypted with"
                ),
                keys=", ".join(sealed),
            )
        return
    missing = [k for k in sealed if k not in keyring.key_ids]
    if missing:
        old = sorted(keyring.key_ids - {keyring.current_id})
        raise DataKeyError.of(
            N_(
                "this database holds conversations encrypted with data key {keys}, but the "
                "configured key is {current}{old}: is it the wrong key? Set "
                "storage.encryption.key to the key the data was encrypted with, or list that "
                "key in storage.encryption.old_keys"
            ),
            keys=", ".join(missing),
            current=keyring.current_id,
            old=f" (old_keys: {', '.join(old)})" if old else "",
        )
    for key, check in in_use.items():
        if key != PLAIN_ID and (check is None or keyring.open(check) != CHECK):
            raise DataKeyError.of(N_("the check value of data key {key} is damaged"), key=key)
