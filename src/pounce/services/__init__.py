"""Use cases: load, decide with the domain, store, then publish after commit."""
