#!/usr/bin/env python3
"""Inputs and probes for the worker benchmarks (bench/summarizer.sh).

  calls.py produce --bootstrap B --topic T --count N [--tenants 100] [--rate R] [--ended-now]
      call.ended events built from the hand-written transcripts (tests/fixtures/transcripts),
      each with fresh ids, spread over the tenants (key = customer_id), as fast as possible or
      at R events/s; --ended-now stamps ended_at with the time of production (freshness).
  calls.py wait --db URL --group G --count N [--timeout S]
      waits until the group's stored offsets add up to N; prints the seconds it took.
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
    args = ap.parse_args()
    produce(args) if args.cmd == "produce" else wait(args)


if __name__ == "__main__":
    main()
