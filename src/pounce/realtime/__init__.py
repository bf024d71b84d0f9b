"""Real-time plumbing: the bus, presence, frames and socket connections."""
