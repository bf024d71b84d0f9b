"""A real SMTP server on 127.0.0.1 (aiosmtpd, in its own thread) that keeps what it
receives. It recognises a repeat by its Message-ID (`effects` holds one message per
id), and can be told to refuse, to be slow, or to hang on the first message."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.stack import free_port


class Inbox:
    """The server's handler: every DATA it was given, and its effects (by Message-ID)."""

    def __init__(self, *, refuse: int = 0, delay: float = 0.0, hang_first: bool = False) -> None:
        self.refuse = refuse  # refuse this many messages (451) before accepting
        self.delay = delay  # seconds each accepted message takes
        self.hang_first = hang_first  # the first message is kept but never answered
        self.arrivals: list[EmailMessage] = []
        self.effects: dict[str, EmailMessage] = {}
        self._cond = threading.Condition()
        self._hangs: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        hang = refuse = False
        with self._cond:
            self.arrivals.append(msg)
            if self.refuse > 0:
                self.refuse -= 1
                refuse = True
            else:
                self.effects.setdefault(str(msg["Message-ID"]), msg)
                hang, self.hang_first = self.hang_first, False
            self._cond.notify_all()
        if refuse:
            return "451 4.3.0 try again later"
        if hang:  # until the sender gives up or dies, or the server stops
            hung = asyncio.Event()
            self._hangs.append((asyncio.get_running_loop(), hung))
            await hung.wait()
            return "421 4.3.0 shutting down"
        if self.delay:
            await asyncio.sleep(self.delay)  # the slow mail server being modelled
        return "250 OK"

    def release(self) -> None:
        """End the hung SMTP conversations (before the server stops)."""
        for loop, hung in self._hangs:
            loop.call_soon_threadsafe(hung.set)

    def wait_arrivals(self, n: int, timeout: float = 10.0) -> list[EmailMessage]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.arrivals) >= n, timeout):
                raise AssertionError(f"{len(self.arrivals)} of {n} emails within {timeout}s")
            return list(self.arrivals)

    async def arrived(self, n: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Wait (off the loop) until `n` messages have arrived; returns them all."""
        return await asyncio.to_thread(self.wait_arrivals, n, timeout)


@contextmanager
def smtp_server(inbox: Inbox) -> Iterator[str]:
    """Run an SMTP server for `inbox`; yields its smtp:// URL."""
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}"
    finally:
        inbox.release()
        controller.stop(no_assert=True)


def parts(msg: EmailMessage) -> tuple[str, str]:
    """The text/plain and text/html bodies of a multipart/alternative email."""
    assert msg.get_content_type() == "multipart/alternative", msg.get_content_type()
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    return str(plain.get_content()), str(html.get_content())
