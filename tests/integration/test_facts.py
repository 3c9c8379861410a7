"""Caller facts (issue 13 item 6) through the real aimem-summarizer, Kafka and PostgreSQL: they
accumulate over several calls (first/last seen, the last confirming call, a count of distinct
calls), a newer call's single-valued fact supersedes the older one and keeps it as history
(whatever order the calls arrive in), a replay or a duplicate rewrites nothing, an erasure
removes them, and tenants never see each other's."""
import json
import uuid

from conftest import aimem
from pipeline import produce, query, stored_total, wait_for
from test_summarizer import start, worker_env  # noqa: F401  (worker_env is a fixture)

CALLER = "9495557001"


def event(customer, user, n, ended, turns, event_id=None):
    return {"type": "call.ended", "version": 1, "event_id": event_id or str(uuid.uuid4()),
            "customer_id": customer, "occurred_at": ended,
            "call_id": f"CAfacts{customer}x{user}x{n}", "user_id": user,
            "started_at": ended.replace(":30:", ":25:"), "ended_at": ended,
            "turns": [{"role": r, "text": t} for r, t in turns], "agent": {"name": "Sam"}}


def calls(customer, user=CALLER):
    """Three calls of one caller, in call order."""
    one = event(customer, user, 1, "2026-10-01T10:30:00Z", [
        ("assistant", "Thanks for calling Peterson Insurance, this is Sam."),
        ("user", "Hi, this is Kelly Nguyen. My policy number is AP-449120."),
        ("assistant", "Thank you, Kelly. What's your mailing address?"),
        ("user", "It's 12 Oak Street, Tustin, CA 92780. And I prefer email, kelly@example.com."),
        ("assistant", "Got it. I'll call you back tomorrow morning with the quote."),
    ])
    two = event(customer, user, 2, "2026-10-15T10:30:00Z", [
        ("user", "Hi, this is Kelly Nguyen. It's about policy AP-449120."),
        ("user", "We moved, my new address is 45 Elm Avenue, Irvine, CA 92618."),
        ("user", "Also my son Jake got his license."),
        ("assistant", "Congratulations. Your appointment with the adjuster is Tuesday at 3 pm."),
    ])
    three = event(customer, user, 3, "2026-11-02T10:30:00Z", [
        ("user", "Hi, this is Kelly Nguyen. My policy number is AP-449120."),
        ("user", "Please contact me by text from now on."),
    ])
    return [one, two, three]


def facts(db, customer=None):
    sql = ("SELECT customer_id, user_id, kind, value, call_count, first_seen_at, last_seen_at,"
           " last_call_id, superseded_at, superseded_by, updated_at, xmin::text"
           " FROM caller_facts")
    if customer is not None:
        sql += f" WHERE customer_id = {int(customer)}"
    return query(db, sql + " ORDER BY customer_id, user_id, kind, value_key")


def by_kind(rows):
    out = {}
    for r in rows:
        out.setdefault(r[2], []).append(r)
    return out


def test_facts_accumulate_supersede_and_survive_replays(services, db, worker_env, tmp_path):
    topic, group, env = worker_env
    a, b = calls(7), calls(8)
    # call 3 arrives before call 2: the history follows the calls' times, not their arrival
    first = [(7, a[0]), (7, a[2]), (7, a[1]), (8, b[0])]
    produce(services.bootstrap, topic, first)
    d = start(env, tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == len(first), what="first calls stored")
        got = by_kind(facts(db, 7))
        (policy,) = got["policy_number"]
        assert policy[3] == "AP-449120" and policy[4] == 3  # three distinct calls
        assert policy[5].isoformat().startswith("2026-10-01") and policy[6].isoformat().startswith("2026-11-02")
        assert policy[7] == a[2]["call_id"] and policy[8] is None

        (name,) = got["name"]
        assert name[3] == "Kelly Nguyen" and name[4] == 3

        addresses = {r[3]: r for r in got["address"]}
        old, new = addresses["12 Oak Street, Tustin, CA 92780"], addresses["45 Elm Avenue, Irvine, CA 92618"]
        assert new[8] is None and new[9] is None and new[7] == a[1]["call_id"]
        assert old[8].isoformat().startswith("2026-10-15") and old[9] == a[1]["call_id"]
        assert old[4] == 1 and new[4] == 1

        prefs = {r[3]: r for r in got["contact_preference"]}
        assert prefs["text message"][8] is None
        assert prefs["email"][9] == a[2]["call_id"]  # superseded by call 3
        (email,) = got["email"]
        assert email[3] == "kelly@example.com" and email[8] is None  # never contradicted
        assert [r[3] for r in got["family_member"]] == ["Jake (son)"]
        assert [r[3] for r in got["appointment"]] == ["Tuesday at 3 pm"]
        assert [r[3] for r in got["follow_up"]] == ["Agent will call the caller back tomorrow morning"]

        # the other tenant's same caller number is another caller: its own facts only
        other = by_kind(facts(db, 8))
        assert other["policy_number"][0][4] == 1 and "family_member" not in other

        # the same events again, and one call again under a new event id: nothing rewritten,
        # no count inflated
        before = facts(db)
        again = [(7, e) for e in a] + [(8, b[0])]
        dup = dict(a[0], event_id=str(uuid.uuid4()))
        produce(services.bootstrap, topic, again + [(7, dup)])
        wait_for(lambda: stored_total(db, group) == len(first) + len(again) + 1, what="replays stored")
        assert facts(db) == before

        # a later call confirms the policy and brings the old address back: it is current again
        later = event(7, CALLER, 4, "2026-11-20T10:30:00Z", [
            ("user", "Hi, this is Kelly Nguyen. It's about policy AP-449120."),
            ("user", "We moved back, my address is 12 Oak Street, Tustin, CA 92780.")])
        produce(services.bootstrap, topic, [(7, later)])
        wait_for(lambda: stored_total(db, group) == len(first) + len(again) + 2, what="later call stored")
        got = by_kind(facts(db, 7))
        assert got["policy_number"][0][4] == 4 and got["policy_number"][0][7] == later["call_id"]
        addresses = {r[3]: r for r in got["address"]}
        assert addresses["12 Oak Street, Tustin, CA 92780"][8] is None
        assert addresses["12 Oak Street, Tustin, CA 92780"][4] == 2
        assert addresses["45 Elm Avenue, Irvine, CA 92618"][9] == later["call_id"]

        # aimem erase removes them with the caller, and only that caller's
        out = json.loads(aimem("erase", "--customer", "7", "--user", CALLER, "--json",
                               env={"AIMEM_DB_URL": db.worker_url}).stdout)
        stored = sum(len(v) for v in got.values())
        assert stored > 0 and out["deleted"]["caller_facts"] == stored and facts(db, 7) == []
        assert facts(db, 8) == [r for r in before if r[0] == 8]
    finally:
        assert d.stop() == 0, d.output()


def test_facts_rls_isolates_tenants(services, db, worker_env, tmp_path):
    """As aimem_reader with the tenant set, as aimem-query reads: only that tenant's rows."""
    topic, group, env = worker_env
    produce(services.bootstrap, topic, [(7, calls(7)[0]), (8, calls(8)[0])])
    d = start(env, tmp_path)
    try:
        wait_for(lambda: stored_total(db, group) == 2, what="calls stored")
    finally:
        assert d.stop() == 0, d.output()
    with db.connect("aimem_reader") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM caller_facts")
        assert cur.fetchone()[0] == 0  # no tenant: nothing
        cur.execute("SELECT set_config('app.current_tenant', '8', true)")
        cur.execute("SELECT DISTINCT customer_id FROM caller_facts")
        assert cur.fetchall() == [(8,)]
