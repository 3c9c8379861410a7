#!/usr/bin/env python3
"""The data side of `make demo` (scripts/demo.sh runs it once the programs are up).

  demo.py run --ingest URL --query URL --secret-file F --db-url ADMIN_URL [--check]

Builds a sample written by us from the hand-written transcripts of tests/fixtures/transcripts:
3 tenants, 24 callers, 102 calls, each caller's calls rewritten with that caller's own name,
new call ids and dates spread over the last 60 days, plus a few memories. It publishes the
sample through aimem-ingest's HTTP API with tokens minted here (HS256, as ChatStack mints
them), waits until the workers stored every event (consumer_offsets, read as the admin),
then fetches one known caller's context from aimem-query and prints it (JSON, then the
prompt text). With --check it prints less and exits 1 unless the context is what the sample
implies (the caller's name and number of summaries).

Standard library and psycopg2 only (no PyJWT on Debian's python).
"""
import argparse
import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
import re
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests/fixtures/transcripts"
TENANTS = (101, 202, 303)
CALLERS_PER_TENANT = 8
CALLS = 102
# The caller the demo shows: tenant 101's first caller, five calls, all in their own name.
KNOWN_TENANT = 101
KNOWN_USER = "4155550100"
KNOWN_NAME = "Kelly Nguyen"
KNOWN_TRANSCRIPTS = ("20_add_vehicle", "15_payment_card_update", "28_missed_payment_grace",
                     "18_renewal_increase_unhappy", "01_billing_increase_named")
ENVELOPE = ("type", "version", "event_id", "customer_id", "occurred_at")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(secret, customer_id, scope="memory:read:write", ttl=12 * 3600):
    """An HS256 token with ChatStack's claims (customer_id, scope, iat, exp)."""
    now = int(time.time())
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"customer_id": customer_id, "scope": scope, "iat": now,
                              "exp": now + ttl}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


def load_transcripts():
    out = {}
    for path in sorted(FIXTURES.glob("*.json")):
        if path.name.endswith(".expect.json"):
            continue
        expect = json.loads(path.with_name(path.stem + ".expect.json").read_text())
        out[path.stem] = (json.loads(path.read_text()), expect.get("caller_name"))
    return out


def rename(text, old, new):
    """Replaces a transcript's caller name (full, first, last; keeping lower case) by new."""
    pairs = [(old, new)]
    if " " in old and " " in new:
        (of, ol), (nf, nl) = old.split(" ", 1), new.split(" ", 1)
        pairs += [(of, nf), (ol, nl)]
    elif " " in new:
        pairs.append((old, new.split(" ", 1)[0]))
    for o, n in pairs:
        text = re.sub(r"\b%s\b" % re.escape(o), lambda m, n=n: n.lower() if m.group(0).islower() else n,
                      text, flags=re.I)
    return text


def shift(ts, delta):
    t = dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")
    return (t + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_call(event, old_name, new_name, user_id, ended_at):
    """A POST /v3/calls body: the fixture without its envelope, renamed, re-dated, new ids."""
    body = {k: copy.deepcopy(v) for k, v in event.items() if k not in ENVELOPE}
    body["call_id"] = "CA" + uuid.uuid4().hex
    body["user_id"] = user_id
    delta = ended_at - dt.datetime.strptime(event["ended_at"], "%Y-%m-%dT%H:%M:%SZ")
    body["started_at"] = shift(event["started_at"], delta)
    body["ended_at"] = shift(event["ended_at"], delta)
    for turn in body["turns"]:
        if "at" in turn:
            turn["at"] = shift(turn["at"], delta)
        if old_name and new_name:
            turn["text"] = rename(turn["text"], old_name, new_name)
    return body


def sample():
    """(calls, memories): calls as (tenant, body), memories as (tenant, path, body)."""
    transcripts = load_transcripts()
    names = [n for _, n in transcripts.values() if n and " " in n and n != KNOWN_NAME]
    callers = []  # (tenant, user_id, name)
    for t_i, tenant in enumerate(TENANTS):
        for c in range(CALLERS_PER_TENANT):
            if tenant == KNOWN_TENANT and c == 0:
                callers.append((tenant, KNOWN_USER, KNOWN_NAME))
            else:
                name = names[(t_i * CALLERS_PER_TENANT + c) % len(names)]
                callers.append((tenant, f"{[415, 512, 617][t_i]}555{100 + c:04d}", name))
    others = [k for k in transcripts if k not in KNOWN_TRANSCRIPTS]
    start = dt.datetime.utcnow().replace(microsecond=0) - dt.timedelta(days=60)
    calls, known_i, other_i = [], 0, 0
    for k in range(CALLS):
        tenant, user_id, name = callers[k % len(callers)]
        if user_id == KNOWN_USER:
            key = KNOWN_TRANSCRIPTS[known_i]
            known_i += 1
        else:
            key = others[other_i % len(others)]
            other_i += 1
        event, old_name = transcripts[key]
        ended = start + dt.timedelta(hours=14 * k + 1)
        calls.append((tenant, make_call(event, old_name, name, user_id, ended)))
    memories = []
    for tenant in TENANTS:
        memories.append((tenant, "/v1/memories/shared",
                         {"type": "fact", "key": "office_hours",
                          "value": "Monday to Friday, 8am to 6pm Pacific"}))
        memories.append((tenant, "/v1/memories/shared",
                         {"type": "fact", "key": "claims_line", "value": "1-800-555-0199, 24/7"}))
    memories.append((KNOWN_TENANT, f"/v1/memories/user?user_id={KNOWN_USER}",
                     {"type": "preference", "key": "contact_time", "value": "after 5pm, by text"}))
    memories.append((KNOWN_TENANT, f"/v1/memories/user?user_id={KNOWN_USER}",
                     {"type": "fact", "key": "vehicles", "value": "2019 Honda CR-V, 2023 Subaru Outback"}))
    memories.append((202, "/v1/memories/user?user_id=5125550101",
                     {"type": "preference", "key": "language", "value": "Spanish when possible"}))
    return calls, memories, callers


def http(method, url, token, body=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def post(url, token, body, want):
    """POSTs until `want` comes back; a 503 (the broker not there yet) is retried for 30s, as
    ChatStack's client would, anything else fails the demo."""
    deadline = time.monotonic() + 30
    while True:
        status, answer = http("POST", url, token, body)
        if status == want:
            return answer
        if status != 503 or time.monotonic() > deadline:
            sys.exit(f"demo: POST {url} answered {status}: {answer}")
        time.sleep(0.5)


def publish(ingest, tokens, calls, memories):
    for tenant, body in calls:
        post(f"{ingest}/v3/calls", tokens[tenant], body, 202)
    for tenant, path, body in memories:
        post(f"{ingest}{path}", tokens[tenant], body, 200)


def stored(db_url):
    import psycopg2
    conn = psycopg2.connect(db_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT consumer_group, sum(next_offset) FROM consumer_offsets GROUP BY 1")
            groups = {g: int(n) for g, n in cur.fetchall()}
            cur.execute("SELECT count(*) FROM dead_letters")
            dead = cur.fetchone()[0]
        return groups, dead
    finally:
        conn.close()


def wait_processed(db_url, n_calls, n_memories, timeout):
    """Polls until each worker group stored offsets past every event published (fresh topics:
    the offsets of the idempotent producer are contiguous, so the sum is the count)."""
    want = {"aimem-summarizer": n_calls, "aimem-personality": n_calls, "aimem-memories": n_memories}
    deadline = time.monotonic() + timeout
    while True:
        groups, dead = stored(db_url)
        if all(groups.get(g, 0) >= n for g, n in want.items()):
            return groups, dead
        if time.monotonic() > deadline:
            sys.exit(f"demo: not processed within {timeout:.0f}s: stored {groups}, wanted {want}")
        time.sleep(0.25)


def check(ctx, enriched, n_known):
    problems = []
    profile = ctx.get("profile") or {}
    if ctx.get("known") is not True:
        problems.append(f"known = {ctx.get('known')!r}")
    name = profile.get("preferred_name") or profile.get("name")
    if name != KNOWN_NAME:
        problems.append(f"caller name {name!r}, expected {KNOWN_NAME!r}")
    if len(ctx.get("summaries") or []) != n_known:
        problems.append(f"{len(ctx.get('summaries') or [])} summaries, expected {n_known}")
    if profile.get("total_calls") != n_known:
        problems.append(f"total_calls {profile.get('total_calls')!r}, expected {n_known}")
    if not isinstance(enriched, dict) or enriched.get("summary_count") != n_known:
        problems.append(f"enriched summary_count {enriched!r}")
    elif f"Name: {KNOWN_NAME}" not in enriched.get("context", ""):
        problems.append("enriched context has no Name: line")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["run", "token"])
    ap.add_argument("--ingest")
    ap.add_argument("--query")
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--db-url")
    ap.add_argument("--customer", type=int, default=KNOWN_TENANT)
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    secret = Path(args.secret_file).read_text().strip()
    if args.command == "token":
        print(mint(secret, args.customer))
        return 0
    tokens = {t: mint(secret, t) for t in TENANTS}
    calls, memories, callers = sample()
    t0 = time.monotonic()
    publish(args.ingest, tokens, calls, memories)
    print(f"demo: published {len(calls)} calls of {len(callers)} callers in {len(TENANTS)} tenants "
          f"and {len(memories)} memories through aimem-ingest ({time.monotonic() - t0:.1f}s)")
    groups, dead = wait_processed(args.db_url, len(calls), len(memories), args.timeout)
    print(f"demo: processed in {time.monotonic() - t0:.1f}s: stored offsets {groups}, "
          f"dead letters {dead}")
    token = tokens[KNOWN_TENANT]
    status, ctx = http("GET", f"{args.query}/v3/callers/{KNOWN_USER}/context?summaries=10&format=text",
                       token)
    if status != 200:
        sys.exit(f"demo: context answered {status}: {ctx}")
    status, enriched = http("POST", f"{args.query}/v2/context/enriched", token, {"user_id": KNOWN_USER})
    n_known = sum(1 for t, b in calls if t == KNOWN_TENANT and b["user_id"] == KNOWN_USER)
    text = ctx.pop("text", "")
    if not args.check:
        print(f"\n=== GET /v3/callers/{KNOWN_USER}/context?summaries=10 (tenant {KNOWN_TENANT}), JSON\n")
        print(json.dumps(ctx, indent=2, ensure_ascii=False))
        print("\n=== the same context as prompt text (format=text, as /v2/context/enriched)\n")
        print(text)
    problems = check(ctx, enriched, n_known)
    if dead:
        problems.append(f"{dead} dead letters")
    if problems:
        print("demo-check: FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"demo-check: ok: caller {KNOWN_USER} of tenant {KNOWN_TENANT} is {KNOWN_NAME} with "
          f"{n_known} summaries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
