"""The three console roles, ordered: each one may do everything the ones below it may."""

from __future__ import annotations

from enum import IntEnum

from aibot.i18n import N_, Phrase


class Role(IntEnum):
    VIEWER = 1  # reads every page, changes nothing
    OPERATOR = 2  # switches models, manages API keys, retries dead letters
    ADMIN = 3  # everything

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(
                Phrase(N_("unknown role '{name}': use admin, operator or viewer"), {"name": name})
            ) from None

    @property
    def label(self) -> str:
        return self.name.lower()

    def allows(self, needed: Role) -> bool:
        return self >= needed
