"""The demo org: one site, an admin, two reps and routing rules; safe to run twice."""

from __future__ import annotations

from dataclasses import dataclass

from pounce.domain.model import Role, RouteMode
from pounce.services.auth import hash_password
from pounce.services.runtime import Runtime
from pounce.store import accounts
from pounce.store import copilot as copilot_store
from pounce.store import proactive as proactive_store
from pounce.store import routing as routing_store

DEMO_ORG = "Acme Analytics"
DEMO_SITE_KEY = "sk_demo_acme"
DEMO_PASSWORD = "pounce-demo"  # noqa: S105 - printed to the user on purpose
DEMO_USERS = (
    ("admin@acme.test", "Ada Admin", Role.ADMIN),
    ("riley@acme.test", "Riley Rep", Role.REP),
    ("sam@acme.test", "Sam Seller", Role.REP),
)


DEMO_SHORTCUTS = (
    (
        "Welcome",
        "Hi {visitor.first_name|there}! {rep.first_name} here from {company.name}. "
        "How can I help today?",
    ),
    (
        "Pricing",
        "Our plans start at **$299/month** (Starter); most teams pick **Growth**. "
        "Annual billing saves 20%.",
    ),
    ("Demo", "Happy to show you around! Would a 30-minute demo this week work?"),
)
DEMO_FAQ = """# Acme Analytics FAQ

## Do you offer annual billing?
Yes. Annual billing saves 20% on every plan and is invoiced once a year.

## Is there a free trial?
Every plan has a 14-day free trial, no credit card required.

## Do you support SSO?
SSO (SAML and SCIM) is included in the Enterprise plan.

## Which integrations do you have?
Salesforce, HubSpot, Slack and Segment, plus a REST API and webhooks.
"""


@dataclass(frozen=True, slots=True)
class DemoInfo:
    org_id: str
    site_key: str
    logins: tuple[tuple[str, str, str], ...]
    created: bool


async def seed_demo(rt: Runtime, *, public_url: str) -> DemoInfo:
    """Create the demo org if it is missing; print-ready logins either way."""
    logins = tuple((email, DEMO_PASSWORD, role.value) for email, _, role in DEMO_USERS)
    # hashed first: not while holding the write lock
    hashes = [await hash_password(rt, DEMO_PASSWORD) for _ in DEMO_USERS]
    async with rt.db.write() as conn:
        existing = await accounts.find_site_by_key(conn, DEMO_SITE_KEY)
        if existing is not None:
            origins = set(existing.allowed_origins) | {public_url}
            await accounts.update_site(
                conn,
                org_id=existing.org_id,
                site_id=existing.id,
                allowed_origins=sorted(origins),
            )
            return DemoInfo(existing.org_id, DEMO_SITE_KEY, logins, created=False)
        org_id = await accounts.create_org(conn, name=DEMO_ORG)
        users = []
        for (email, name, role), password_hash in zip(DEMO_USERS, hashes, strict=True):
            users.append(
                await accounts.create_user(
                    conn,
                    org_id=org_id,
                    email=email,
                    name=name,
                    password_hash=password_hash,
                    role=role,
                )
            )
        await accounts.create_site(
            conn,
            org_id=org_id,
            name="Acme Analytics website",
            allowed_origins=[public_url],
            site_key=DEMO_SITE_KEY,
        )
        sales = await accounts.create_team(
            conn, org_id=org_id, name="Sales", member_ids=[u.id for u in users[1:]]
        )
        await routing_store.create_rule(
            conn,
            org_id=org_id,
            name="Enterprise visitors go to every sales rep",
            url_pattern="*/enterprise*",
            team_id=sales,
            mode=RouteMode.EVERYONE,
        )
        await routing_store.create_rule(
            conn,
            org_id=org_id,
            name="Everyone else: sales round-robin",
            url_pattern="",
            rep_ids=[u.id for u in users],
            mode=RouteMode.ROUND_ROBIN,
        )
        admin = users[0]
        for name, text in DEMO_SHORTCUTS:
            await copilot_store.create_shortcut(
                conn,
                org_id=org_id,
                scope="org",
                owner_id=None,
                name=name,
                text=text,
                created_by=admin.id,
            )
        await copilot_store.create_page(
            conn,
            org_id=org_id,
            title="Acme Analytics FAQ",
            body=DEMO_FAQ,
            format="markdown",
            created_by=admin.id,
        )
        await proactive_store.put_settings(
            conn,
            org_id=org_id,
            auto_pounce_enabled=True,
            nudge_delay_seconds=20.0,
            rep_timeout_seconds=60.0,
        )
        await proactive_store.create_item(
            conn,
            "rule",
            org_id=org_id,
            values={
                "name": "Pricing readers",
                "url_pattern": "*/pricing*",
                "min_seconds_on_page": 15.0,
                "min_pages_viewed": 1,
                "attributes": {},
                "enabled": True,
            },
        )
        await proactive_store.create_item(
            conn,
            "template",
            org_id=org_id,
            values={
                "name": "Pricing greeting",
                "url_pattern": "*/pricing*",
                "body": (
                    "Hi {visitor.first_name|there}! I'm {rep.first_name} from {org.name}. "
                    "Comparing plans? I can tell you which one fits your team."
                ),
            },
        )
    return DemoInfo(org_id, DEMO_SITE_KEY, logins, created=True)
