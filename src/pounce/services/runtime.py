"""What every use case is handed: settings, store, bus, presence and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pounce.config import Settings
from pounce.realtime.bus import Bus
from pounce.realtime.presence import Presence
from pounce.store.db import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: Bus
    presence: Presence
    secret_key: str
    clock: Callable[[], float] = field(default=time.time)
    node_id: str = "node"
