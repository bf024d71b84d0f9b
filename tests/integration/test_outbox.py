"""The outbox and the transcript email (in-process, a real SMTP server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pounce.integrations.mail import SmtpMailer
from pounce.services import outbox, transcripts
from pounce.services.errors import ServiceError
from pounce.services.uow import unit_of_work
from pounce.store import outbox as store
from tests.support.harness import Harness, MemorySocket, harness
from tests.support.smtp import Inbox, parts, smtp_server


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(
        tmp_path,
        outbox_retry_base_seconds=10.0,
        outbox_max_attempts=3,
        outbox_lease_seconds=60.0,
    ) as made:
        yield made


async def _rows(h: Harness, status: store.Status) -> list[store.Row]:
    return await outbox.list_rows(h.rt, org_id=h.org.id, status=status, limit=100, before_id=None)


async def _closed_chat(
    h: Harness, *, email: str | None = "ann@example.com", body: str = "hello"
) -> tuple[MemorySocket, str]:
    """A visitor who (maybe) left an email chats with rep 0, who closes the chat."""
    rep, _ = await h.rep(0)
    visitor, _ = await h.visitor()
    if email is not None:
        left = await visitor.request({"type": "leave_email", "email": email})
        assert left["type"] == "ack", left
    ack = await visitor.request({"type": "message", "body": body})
    cid = ack["conversation_id"]
    await rep.request({"type": "start_conversation", "conversation_id": cid})
    reply = await rep.request(
        {"type": "message", "conversation_id": cid, "body": "Hi **Ann**, see https://x.test"}
    )
    assert reply["type"] == "ack", reply
    note = await rep.request({"type": "note", "conversation_id": cid, "body": "rep-only note"})
    assert note["type"] == "ack", note
    closed = await rep.request({"type": "close_conversation", "conversation_id": cid})
    assert closed["type"] == "ack", closed
    return rep, cid


async def test_closing_sends_the_transcript_once_with_both_parts_escaped(h: Harness) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as url:
        h.rt.mailer = SmtpMailer(url)
        await _closed_chat(h, body="look: <script>alert(1)</script> *hi*")
        [row] = await _rows(h, "pending")
        assert row.kind == transcripts.KIND and row.payload["to"] == "ann@example.com"
        assert h.rt.outbox_wake.is_set()  # the commit woke the worker

        assert await h.deliver_due() == 1
        [msg] = await inbox.arrived(1)
    assert msg["To"] == "ann@example.com"
    assert msg["Subject"] == f"Your conversation with {h.org.name}"
    assert msg["Message-ID"] == transcripts.message_id(row.key, h.rt.settings.resolved_mail_from())
    plain, html = parts(msg)
    assert "look: <script>alert(1)</script> *hi*" in plain
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <em>hi</em>" in html
    assert "Hi <strong>Ann</strong>" in html and 'href="https://x.test"' in html
    assert "rep-only note" not in plain + html  # rep-only items stay with reps
    assert [r.id for r in await _rows(h, "done")] == [row.id]
    assert await h.deliver_due() == 0


async def test_nothing_is_queued_without_email_address_setting_or_smtp(h: Harness) -> None:
    # No SMTP configured: email is off.
    await _closed_chat(h)
    # SMTP configured, but the visitor left no email.
    h.rt.mailer = SmtpMailer("smtp://127.0.0.1:9")
    await _closed_chat(h, email=None)
    # The org turned transcripts off.
    await transcripts.put_setting(h.rt, org_id=h.org.id, enabled=False)
    await _closed_chat(h)
    assert await _rows(h, "pending") == []
    await transcripts.put_setting(h.rt, org_id=h.org.id, enabled=True)
    assert await transcripts.org_sends_transcripts(h.rt, h.org.id)


async def test_failures_back_off_with_jitter_then_park_and_an_admin_retries(h: Harness) -> None:
    inbox = Inbox(refuse=3)
    with smtp_server(inbox) as url:
        h.rt.mailer = SmtpMailer(url)
        await _closed_chat(h)
        [row] = await _rows(h, "pending")
        start = h.clock()
        assert await h.deliver_due() == 1
        [row] = await _rows(h, "pending")
        assert row.attempts == 1 and "451" in (row.last_error or "")
        assert start + 5.0 <= row.next_at <= start + 10.0  # base 10 s, jitter over its upper half
        assert await h.deliver_due() == 0  # not yet due

        h.clock.advance(10.0)
        assert await h.deliver_due() == 1
        [row] = await _rows(h, "pending")
        assert h.clock() + 10.0 <= row.next_at <= h.clock() + 20.0  # doubled
        h.clock.advance(20.0)
        assert await h.deliver_due() == 1  # the third and last attempt
        assert await _rows(h, "pending") == []
        [failed] = await _rows(h, "failed")
        assert failed.attempts == 3 and "451" in (failed.last_error or "")
        await outbox.refresh_metrics(h.rt)

        again = await outbox.retry(h.rt, org_id=h.org.id, row_id=failed.id)
        assert again.status == "pending" and again.attempts == 0
        with pytest.raises(ServiceError) as refused:
            await outbox.retry(h.rt, org_id=h.org.id, row_id=failed.id)
        assert refused.value.code == "conflict"
        with pytest.raises(ServiceError) as elsewhere:
            await outbox.retry(h.rt, org_id="another-org", row_id=failed.id)
        assert elsewhere.value.code == "not_found"
        assert await h.deliver_due() == 1
        await inbox.arrived(4)
    assert len(inbox.effects) == 1
    assert [r.id for r in await _rows(h, "done")] == [failed.id]


async def test_a_lost_lease_is_claimed_again_and_the_stale_worker_cannot_finish(
    h: Harness,
) -> None:
    h.rt.mailer = SmtpMailer("smtp://127.0.0.1:9")
    await _closed_chat(h)
    async with h.rt.db.write() as conn:
        [first] = await store.claim(
            conn, now=h.clock(), lease_seconds=60.0, limit=10, skip_locked=False
        )
    async with h.rt.db.write() as conn:  # leased: nobody else gets it
        assert (
            await store.claim(conn, now=h.clock(), lease_seconds=60, limit=10, skip_locked=False)
            == []
        )
    h.clock.advance(61.0)  # the first worker died: its lease runs out
    async with h.rt.db.write() as conn:
        [second] = await store.claim(
            conn, now=h.clock(), lease_seconds=60.0, limit=10, skip_locked=False
        )
    assert second.id == first.id and second.key == first.key and second.attempts == 2
    async with h.rt.db.write() as conn:
        assert not await store.finish(conn, row_id=first.id, lease=first.lease or "", now=1.0)
        assert await store.finish(conn, row_id=second.id, lease=second.lease or "", now=1.0)


async def test_a_hanging_mail_server_does_not_hold_the_write_lock(h: Harness) -> None:
    inbox = Inbox(hang_first=True)
    with smtp_server(inbox) as url:
        h.rt.mailer = SmtpMailer(url, timeout=30)
        await _closed_chat(h)
        delivering = asyncio.create_task(h.deliver_due())
        await inbox.arrived(1)  # the worker is inside the SMTP conversation now
        # Chat goes on: a new conversation and its messages commit meanwhile.
        visitor, _ = await h.visitor()
        for n in range(3):
            ack = await visitor.request({"type": "message", "body": f"still here {n}"}, timeout=2)
            assert ack["type"] == "ack", ack
        assert not delivering.done()
        inbox.release()  # the server gives up on it (421): the row waits for a retry
        assert await delivering == 1
    [row] = await _rows(h, "pending")
    assert row.attempts == 1 and "421" in (row.last_error or "")


async def test_pending_rows_per_org_are_limited_and_resend_says_why(tmp_path: Path) -> None:
    async with harness(tmp_path, outbox_max_pending_per_org=2) as h:
        _, cid = await _closed_chat(h)  # email off: nothing queued
        with pytest.raises(ServiceError) as off:
            await transcripts.resend(h.rt, org_id=h.org.id, conversation_id=cid)
        assert off.value.code == "email_off"
        h.rt.mailer = SmtpMailer("smtp://127.0.0.1:9")
        assert await transcripts.resend(h.rt, org_id=h.org.id, conversation_id=cid) == (
            "ann@example.com"
        )
        await transcripts.resend(h.rt, org_id=h.org.id, conversation_id=cid)
        with pytest.raises(ServiceError) as full:
            await transcripts.resend(h.rt, org_id=h.org.id, conversation_id=cid)
        assert full.value.code == "outbox_full" and full.value.http_status == 429
        with pytest.raises(ServiceError) as elsewhere:
            await transcripts.resend(h.rt, org_id="another-org", conversation_id=cid)
        assert elsewhere.value.code == "not_found"
        # A close with a full outbox still closes (the transcript is not queued).
        await _closed_chat(h)
        assert len(await _rows(h, "pending")) == 2


async def test_outbox_rows_roll_back_with_their_transaction(h: Harness) -> None:
    with pytest.raises(RuntimeError):
        async with unit_of_work(h.rt) as uow:
            await uow.outbox(h.org.id, transcripts.KIND, {"conversation_id": "x"}, key="k1")
            raise RuntimeError("the change failed")
    assert await _rows(h, "pending") == []
    async with unit_of_work(h.rt) as uow:
        assert await uow.outbox(h.org.id, transcripts.KIND, {"conversation_id": "x"}, key="k1")
        assert not await uow.outbox(h.org.id, transcripts.KIND, {}, key="k1")  # same key: once
    h.rt.mailer = SmtpMailer("smtp://127.0.0.1:9")
    assert await h.deliver_due() == 1  # its conversation does not exist: parked at once
    [failed] = await _rows(h, "failed")
    assert failed.attempts == 1 and "is gone" in (failed.last_error or "")


async def test_the_worker_wakes_on_commit_and_stops_in_time_mid_delivery(h: Harness) -> None:
    inbox = Inbox(hang_first=True)
    with smtp_server(inbox) as url:
        h.rt.mailer = SmtpMailer(url, timeout=30)
        worker = outbox.Worker(h.rt, interval=3600)  # only the commit's wake-up can start it
        worker.start()
        await _closed_chat(h)
        await inbox.arrived(1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await worker.stop(grace=0.5)
        assert loop.time() - started < 2.0
    [row] = await _rows(h, "pending")  # still leased: delivered again when the lease ends
    assert row.attempts == 1 and row.next_at == h.clock() + 60.0
