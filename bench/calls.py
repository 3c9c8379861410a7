#!/usr/bin/env python3
"""Inputs and probes for the worker benchmarks (bench/summarizer.sh).

  calls.py produce --bootstrap B --topic T --count N [--tenants 100] [--rate R] [--ended-now]
      call.ended events built from the hand-written transcripts (tests/fixtures/transcripts),
      each with fresh ids, spread over the tenants (key = customer_id), as fast as possible or
      at R events/s; --ended-now stamps ended_at with the time of production (freshness).
  calls.py wait --db URL --group G --count N [--timeout S]
      waits until the group's stored offsets add up to N; prints the seconds it took.
  calls.py ceiling --db ADMIN_URL [--batch 500]
      the database write ceiling: the call_summaries rows the worker wrote, upserted again by
      a plain loop (one transaction per batch: the multi-row upsert, then the profile recount
      of the batch's callers, both statements server-side); prints rows/s.
  calls.py freshness --db ADMIN_URL
      p50/p99 seconds from ended_at (stamped at production) to the row's commit timestamp
      (track_commit_timestamp must be on).
  calls.py fakellm --delay S
      an OpenAI-compatible server answering every request after S seconds; prints its base URL.
"""
import argparse
import glob
import json
import os
import sys
import time
import uuid
from datetime import datetime, timezone

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def templates():
    out = []
    for path in sorted(glob.glob(os.path.join(REPO, "tests/fixtures/transcripts/[0-9][0-9]_*.json"))):
        if not path.endswith(".expect.json"):
            with open(path) as f:
                out.append(json.load(f))
    return out


def produce(args):
    from confluent_kafka import Producer
    base = templates()
    p = Producer({"bootstrap.servers": args.bootstrap, "enable.idempotence": True,
                  "linger.ms": 5, "queue.buffering.max.messages": 200000})
    failures = []
    start = time.monotonic()
    for i in range(args.count):
        t = base[i % len(base)]
        customer = 1 + i % args.tenants
        ev = dict(t, event_id=str(uuid.uuid4()), customer_id=customer,
                  user_id=f"555{(i // args.tenants) % 1000:07d}",
                  call_id=f"CB{uuid.uuid4().hex}")
        if args.ended_now:
            ev["ended_at"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            ev.pop("started_at", None)
        while True:
            try:
                p.produce(args.topic, key=str(customer), value=json.dumps(ev),
                          headers={"aimem-type": "call.ended"},
                          on_delivery=lambda err, msg: failures.append(err) if err else None)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        if args.rate:
            ahead = start + (i + 1) / args.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    p.flush(120)
    if failures:
        sys.exit(f"produce: {len(failures)} failed: {failures[0]}")
    print(f"{time.monotonic() - start:.2f}")


def wait(args):
    import psycopg2
    start = time.monotonic()
    conn = psycopg2.connect(args.db)
    conn.autocommit = True
    with conn.cursor() as cur:
        while True:
            cur.execute("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer_group = %s",
                        (args.group,))
            if cur.fetchone()[0] >= args.count:
                break
            if time.monotonic() - start > args.timeout:
                sys.exit(f"wait: timed out at {args.timeout} s")
            time.sleep(0.02)
    print(f"{time.monotonic() - start:.2f}")


SUMMARY_COLS = ("customer_id, call_id, user_id, thread_id, call_started_at, call_ended_at, summary,"
                " key_topics, key_variables, sentiment, resolution_status, duration_seconds, embedding,"
                " search_tsv, processor, needs_reprocess, event_id, source_topic, source_partition,"
                " source_offset")


def ceiling(args):
    import psycopg2
    conn = psycopg2.connect(args.db)
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE staging AS SELECT row_number() OVER (ORDER BY source_partition,"
                    f" source_offset) AS rn, {SUMMARY_COLS} FROM call_summaries")
        cur.execute("SELECT count(*) FROM staging")
        total = cur.fetchone()[0]
        # TRUNCATE fires no DELETE trigger: the summaries' postings (migration 010) go too
        cur.execute("TRUNCATE call_summaries, caller_profiles, search_postings")
        conn.commit()
        start = time.monotonic()
        for lo in range(1, total + 1, args.batch):
            hi = lo + args.batch - 1
            cur.execute(f"INSERT INTO call_summaries ({SUMMARY_COLS}) SELECT {SUMMARY_COLS} FROM staging"
                        " WHERE rn BETWEEN %s AND %s ON CONFLICT (customer_id, call_id) DO UPDATE SET"
                        " summary = excluded.summary, updated_at = now()", (lo, hi))
            cur.execute("INSERT INTO caller_profiles (customer_id, user_id, first_call_at, last_call_at,"
                        " total_calls, preferred_name)"
                        " SELECT u.customer_id, u.user_id, a.f, a.l, a.n, NULL FROM"
                        " (SELECT DISTINCT customer_id, user_id FROM staging WHERE rn BETWEEN %s AND %s) u"
                        " CROSS JOIN LATERAL (SELECT min(coalesce(call_started_at, call_ended_at)) f,"
                        " max(call_ended_at) l, count(*) n FROM call_summaries c"
                        " WHERE c.customer_id = u.customer_id AND c.user_id = u.user_id) a"
                        " ON CONFLICT (customer_id, user_id) DO UPDATE SET total_calls = excluded.total_calls,"
                        " first_call_at = excluded.first_call_at, last_call_at = excluded.last_call_at",
                        (lo, hi))
            conn.commit()
        elapsed = time.monotonic() - start
    print(f"{total / elapsed:.0f} rows/s ({total} rows in {elapsed:.1f} s, batches of {args.batch})")


def freshness(args):
    import psycopg2
    conn = psycopg2.connect(args.db)
    with conn.cursor() as cur:
        cur.execute("SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM"
                    " pg_xact_commit_timestamp(xmin) - call_ended_at)), count(*) FROM call_summaries")
        (p50, p99), n = cur.fetchone()
    print(f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms over {n} calls")


def fakellm(args):
    sys.path.insert(0, os.path.join(REPO, "tests/integration"))
    from pipeline import FakeLLM
    answer = {"summary": "The caller asked about a bill; the agent explained the change.",
              "key_topics": ["billing"], "caller_name": "", "key_variables": {},
              "sentiment": "neutral", "resolution_status": "resolved"}
    f = FakeLLM()
    f.answer_with(answer, delay=args.delay)
    print(f.base_url, flush=True)
    while True:
        time.sleep(3600)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("produce")
    a.add_argument("--bootstrap", required=True)
    a.add_argument("--topic", required=True)
    a.add_argument("--count", type=int, required=True)
    a.add_argument("--tenants", type=int, default=100)
    a.add_argument("--rate", type=float, default=0)
    a.add_argument("--ended-now", action="store_true")
    b = sub.add_parser("wait")
    b.add_argument("--db", required=True)
    b.add_argument("--group", required=True)
    b.add_argument("--count", type=int, required=True)
    b.add_argument("--timeout", type=float, default=900)
    c = sub.add_parser("ceiling")
    c.add_argument("--db", required=True)
    c.add_argument("--batch", type=int, default=500)
    f = sub.add_parser("freshness")
    f.add_argument("--db", required=True)
    g = sub.add_parser("fakellm")
    g.add_argument("--delay", type=float, default=1.0)
    args = ap.parse_args()
    {"produce": produce, "wait": wait, "ceiling": ceiling, "freshness": freshness,
     "fakellm": fakellm}[args.cmd](args)


if __name__ == "__main__":
    main()
