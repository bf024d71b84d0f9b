"""Pounce: self-hosted conversational-marketing live chat."""

__version__ = "0.1.0"
