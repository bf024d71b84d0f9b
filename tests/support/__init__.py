"""Helpers the test suites share: real servers, real clients, real stores."""
