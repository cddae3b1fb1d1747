"""A Raft whose module takes IMPORT_SECONDS to import, for sealed mode's tests: a
new peer host reads nothing of its channel until the import is done."""

from __future__ import annotations

import time
from typing import Any

IMPORT_SECONDS = 1.0

time.sleep(IMPORT_SECONDS)


class Raft:
    """Answers Start with the size of the state it was made with, as its index."""

    def __init__(self, persister: Any) -> None:
        self.made_with = len(persister.ReadRaftState())

    def GetState(self) -> tuple[int, bool]:
        return 0, False

    def Start(self, command: Any) -> tuple[int, int, bool]:
        return self.made_with, 0, False

    def Kill(self) -> None:
        pass


def Make(peers: list[Any], me: int, persister: Any, applyCh: Any) -> Raft:
    return Raft(persister)
