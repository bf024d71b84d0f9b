"""Imported last by the fork server (`spawn.PRELOAD`): what it imported moves to the
collector's permanent generation, so each forked server's start-up `gc.collect()`
scans only its own objects, and does not write to (and copy) every inherited page."""

from __future__ import annotations

import gc

gc.collect()
gc.freeze()
