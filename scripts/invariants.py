#!/usr/bin/env python3
"""The invariant checker of issue 8: no loss, no duplicates, offsets at the end, no tenant leak.

Run as the admin role (a superuser or the table owner: it reads every tenant's rows, so
row-level security must not filter them). Importable (`check(...)`) by the chaos and soak
drivers, and a CLI:

    scripts/invariants.py --db postgresql://postgres@127.0.0.1:5432/aimem \\
        --bootstrap 127.0.0.1:9092 [--topic aimem.calls.v1] [--events produced.jsonl] \\
        [--group summarizer=aimem-summarizer --group personality=aimem-personality] \\
        [--answers answers.jsonl --canaries canaries.json] [--wait 60] [--json]

What is checked, per consumer group (summarizer rows are `call_summaries`, personality rows
are `personality_metrics`):

- lost: an accepted event with neither a row for its (customer_id, call_id) carrying one of
  that call's accepted event ids, nor a dead letter of that group. The accepted events are
  `--events` (JSON lines with at least event_id, customer_id, call_id: what the producer had
  acknowledged) or, without it, every message of the topic read back from the start (then a
  message is also accounted for by a dead letter at its exact partition/offset).
- dup: more than one row per (customer_id, call_id) (impossible by the primary key, checked
  anyway), more than one row per event id, or an event that is both applied and dead-lettered.
- offsets: the group's stored next offsets (`consumer_offsets`) equal the topic's high
  watermarks (partitions never written may have no row). With `--wait S` the check polls up to
  S seconds for the group to drain first.
- xtenant: a row whose customer_id differs from its event's (by event id), a row whose event
  id no accepted event has (phantom), and, given API answers (JSON lines
  {"tenant": N, "body": "..."}) and canaries ({"N": "string only tenant N's data holds"}),
  any answer carrying another tenant's canary.

Prints the figures; exits 1 on any violation (2 on a usage or connection error).
"""
import argparse
import json
import sys
import time
import uuid

TABLES = {"summarizer": "call_summaries", "personality": "personality_metrics"}
DEFAULT_GROUPS = {"summarizer": "aimem-summarizer", "personality": "aimem-personality"}


def _connect(db_url):
    import psycopg2
    conn = psycopg2.connect(db_url)
    conn.autocommit = True
    return conn


def _rows(conn, sql, *args):
    with conn.cursor() as cur:
        cur.execute(sql, args or None)
        return cur.fetchall()


def watermarks(bootstrap, topic, timeout=10.0):
    """{partition: high watermark} of every partition of topic."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "invariants-" + uuid.uuid4().hex[:8],
                  "enable.auto.commit": False})
    try:
        md = c.list_topics(topic, timeout=timeout)
        parts = sorted(md.topics[topic].partitions)
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1] for p in parts}
    finally:
        c.close()


def read_topic(bootstrap, topic, timeout=120.0):
    """Every message of topic up to the current high watermarks, as dicts with partition,
    offset and (when the value is a JSON object with the ids) event_id, customer_id, call_id."""
    from confluent_kafka import Consumer, TopicPartition
    ends = watermarks(bootstrap, topic)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "invariants-" + uuid.uuid4().hex[:8],
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    out = []
    try:
        lows = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[0] for p in ends}
        todo = {p for p in ends if ends[p] > lows[p]}
        c.assign([TopicPartition(topic, p, lows[p]) for p in todo])
        deadline = time.monotonic() + timeout
        while todo and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            rec = {"partition": m.partition(), "offset": m.offset()}
            try:
                ev = json.loads(m.value())
                if isinstance(ev, dict):
                    for k in ("event_id", "customer_id", "call_id"):
                        if k in ev:
                            rec[k] = ev[k]
            except (ValueError, TypeError, UnicodeDecodeError):
                pass
            out.append(rec)
            if m.offset() + 1 >= ends[m.partition()]:
                todo.discard(m.partition())
        if todo:
            raise RuntimeError(f"could not read partitions {sorted(todo)} of {topic} to the end")
    finally:
        c.close()
    return out


def load_events(path):
    events = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                ev = json.loads(line)
                events.append({k: ev[k] for k in ("event_id", "customer_id", "call_id", "partition", "offset")
                               if k in ev})
    return events


def check_answers(answers, canaries):
    """answers: iterable of {"tenant": N, "body": str}; canaries: {tenant: string}. Returns the
    number of answers that carry a canary of another tenant, and a few examples."""
    canaries = {int(t): c for t, c in canaries.items()}
    bad, n, examples = 0, 0, []
    for a in answers:
        n += 1
        body = a["body"] if isinstance(a["body"], str) else json.dumps(a["body"])
        leaked = [t for t, c in canaries.items() if t != int(a["tenant"]) and c in body]
        if leaked:
            bad += 1
            if len(examples) < 5:
                examples.append({"tenant": a["tenant"], "leaked_tenants": leaked})
    return {"answers": n, "xtenant": bad, "examples": examples}


def _valid(ev):
    return (isinstance(ev.get("event_id"), str) and isinstance(ev.get("customer_id"), int)
            and isinstance(ev.get("call_id"), str))


def check_group(conn, kind, group, topic, events, ends, known=None):
    """The figures of one group; events as from load_events or read_topic. known: every event
    that may have reached the topic (a superset of events, e.g. produced but not acknowledged
    yet during a mid-run check), for phantom and xtenant."""
    table = TABLES[kind]
    # the offsets first: whatever is below them was committed before the rows are read
    stored = dict(_rows(conn, "SELECT partition, next_offset FROM consumer_offsets"
                              " WHERE consumer_group = %s AND topic = %s", group, topic))
    rows = _rows(conn, f"SELECT customer_id, call_id, event_id::text, user_id FROM {table}")
    dead = _rows(conn, 'SELECT partition, "offset", event_id, customer_id FROM dead_letters'
                       " WHERE consumer_group = %s AND topic = %s", group, topic)
    dead_at = {(p, o) for p, o, _, _ in dead}
    dead_ids = {e for _, _, e, _ in dead if e}
    by_call = {(r[0], r[1]): r[2] for r in rows}
    row_events = {}
    for r in rows:
        row_events[r[2]] = row_events.get(r[2], 0) + 1

    call_events = {}  # (tenant, call) -> accepted event ids
    event_tenant = {}
    for ev in events:
        if _valid(ev):
            call_events.setdefault((ev["customer_id"], ev["call_id"]), set()).add(ev["event_id"])
            event_tenant[ev["event_id"]] = ev["customer_id"]
    for ev in known or ():
        if _valid(ev):
            event_tenant.setdefault(ev["event_id"], ev["customer_id"])

    lost = []
    lost_behind = 0  # lost although the group's stored offset is already past it
    applied_and_dead = 0
    for ev in events:
        at = (ev.get("partition"), ev.get("offset"))
        in_dead = at in dead_at if "offset" in ev else False
        if _valid(ev):
            key = (ev["customer_id"], ev["call_id"])
            applied = by_call.get(key) in call_events[key]
            in_dead = in_dead or ev["event_id"] in dead_ids
            if applied and ev["event_id"] in dead_ids and by_call.get(key) == ev["event_id"]:
                applied_and_dead += 1
            if not applied and not in_dead:
                lost.append(ev)
        elif not in_dead:
            lost.append(ev)
        else:
            continue
        if lost and lost[-1] is ev and "offset" in ev and ev["offset"] < stored.get(ev["partition"], 0):
            lost_behind += 1

    dup_call = _rows(conn, f"SELECT count(*) FROM (SELECT 1 FROM {table} GROUP BY customer_id, call_id"
                           " HAVING count(*) > 1) d")[0][0]
    dup_event = sum(1 for n in row_events.values() if n > 1)
    xtenant = sum(1 for r in rows if r[2] in event_tenant and event_tenant[r[2]] != r[0])
    phantom = sum(1 for r in rows if r[2] not in event_tenant)

    lag = sum(max(0, hi - stored.get(p, 0)) for p, hi in ends.items())
    offsets_ok = all(stored.get(p, 0) == hi for p, hi in ends.items()) and set(stored) <= set(ends)
    return {"group": group, "table": table, "rows": len(rows), "dead_letters": len(dead),
            "lost": len(lost), "lost_behind_offsets": lost_behind, "lost_sample": lost[:5], "dup": dup_call + dup_event + applied_and_dead,
            "dup_call": dup_call, "dup_event": dup_event, "applied_and_dead": applied_and_dead,
            "xtenant": xtenant, "phantom": phantom, "offsets_ok": offsets_ok, "lag": lag,
            "stored": {str(k): v for k, v in sorted(stored.items())},
            "watermarks": {str(k): v for k, v in sorted(ends.items())}}


def wait_drained(db_url, bootstrap, topic, groups, timeout):
    """Polls until every group's stored offsets equal the watermarks; returns the seconds it
    took, or None when timeout passed first."""
    t0 = time.monotonic()
    conn = None
    while True:
        try:
            if conn is None:
                conn = _connect(db_url)
            ends = watermarks(bootstrap, topic)
            done = True
            for group in groups.values():
                stored = dict(_rows(conn, "SELECT partition, next_offset FROM consumer_offsets"
                                          " WHERE consumer_group = %s AND topic = %s", group, topic))
                if any(stored.get(p, 0) != hi for p, hi in ends.items()):
                    done = False
                    break
            if done:
                conn.close()
                return time.monotonic() - t0
        except Exception:  # the database or broker may still be coming back
            if conn is not None:
                conn.close()
            conn = None
        if time.monotonic() - t0 > timeout:
            if conn is not None:
                conn.close()
            return None
        time.sleep(0.5)


def check(db_url, bootstrap, topic="aimem.calls.v1", groups=None, events=None, answers=None,
          canaries=None, wait=0.0, final=True, known=None):
    """Every invariant; returns the report (report["ok"] is False on any violation).

    final=False is the mid-run check (traffic still flowing): events not reached yet are not
    lost and offsets may trail the watermarks, so only lost_behind_offsets (an event below
    the group's stored offset without a row or dead letter), dup and xtenant count."""
    groups = groups or dict(DEFAULT_GROUPS)
    report = {"topic": topic, "groups": {}, "violations": []}
    if wait:
        t = wait_drained(db_url, bootstrap, topic, groups, wait)
        report["drain_seconds"] = None if t is None else round(t, 1)
    source = "events"
    if events is None:
        events = read_topic(bootstrap, topic)
        source = "topic"
    report["events"] = len(events)
    report["events_source"] = source
    ends = watermarks(bootstrap, topic)
    conn = _connect(db_url)
    try:
        for kind, group in groups.items():
            g = check_group(conn, kind, group, topic, events, ends, known)
            report["groups"][kind] = g
            names = ("lost", "dup", "xtenant", "phantom") if final else (
                "lost_behind_offsets", "dup", "xtenant", "phantom")
            for name in names:
                if g[name]:
                    report["violations"].append(f"{kind}: {name}={g[name]}")
            if final and not g["offsets_ok"]:
                report["violations"].append(f"{kind}: offsets {g['stored']} != watermarks {g['watermarks']}")
    finally:
        conn.close()
    if answers is not None:
        a = check_answers(answers, canaries or {})
        report["answers"] = a
        if a["xtenant"]:
            report["violations"].append(f"answers: xtenant={a['xtenant']}")
    report["ok"] = not report["violations"]
    return report


def summary_line(report):
    parts = [f"events={report['events']}"]
    for kind, g in report["groups"].items():
        parts.append(f"{kind}: rows={g['rows']} dead={g['dead_letters']} lost={g['lost']} dup={g['dup']}"
                     f" xtenant={g['xtenant']} phantom={g['phantom']} offsets={'ok' if g['offsets_ok'] else 'BAD'}"
                     f" lag={g['lag']}")
    if "answers" in report:
        parts.append(f"answers={report['answers']['answers']} answer_xtenant={report['answers']['xtenant']}")
    return "; ".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="admin connection URL")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", default="aimem.calls.v1")
    ap.add_argument("--events", help="JSON lines of the accepted events (default: read the topic)")
    ap.add_argument("--group", action="append", default=[], metavar="KIND=NAME",
                    help="summarizer=GROUP or personality=GROUP (default both, with the default names)")
    ap.add_argument("--answers", help="JSON lines {tenant, body} of API answers")
    ap.add_argument("--canaries", help="JSON object {tenant: canary string}")
    ap.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the groups to drain")
    ap.add_argument("--json", action="store_true", help="print the whole report as JSON")
    ap.add_argument("--mid-run", action="store_true",
                    help="traffic still flows: only events below the stored offsets can be lost")
    a = ap.parse_args(argv)
    groups = {}
    for g in a.group:
        kind, _, name = g.partition("=")
        if kind not in TABLES or not name:
            ap.error(f"--group {g}: expected summarizer=NAME or personality=NAME")
        groups[kind] = name
    try:
        events = load_events(a.events) if a.events else None
        answers = None
        if a.answers:
            with open(a.answers) as f:
                answers = [json.loads(line) for line in f if line.strip()]
        canaries = json.load(open(a.canaries)) if a.canaries else {}
        report = check(a.db, a.bootstrap, a.topic, groups or None, events, answers, canaries, a.wait,
                       final=not a.mid_run)
    except Exception as e:  # noqa: BLE001 — a usage/connection problem is not a verdict
        print(f"invariants: error: {e}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(report, indent=1, default=str))
    else:
        print("invariants: " + summary_line(report))
        for v in report["violations"]:
            print("invariants: VIOLATION " + v)
        print("invariants: " + ("ok" if report["ok"] else "FAILED"))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
