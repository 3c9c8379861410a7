#!/usr/bin/python3
"""Small Kafka admin helper for the throwaway brokers that scripts/dev starts.

    kafka_admin.py wait          --bootstrap HOST:PORT [--timeout S] [--brokers N] [--pid PID]... [--log FILE]...
    kafka_admin.py create-topics --bootstrap HOST:PORT [--partitions N] [--replication-factor N] [--config K=V]... [--timeout S] TOPIC...
    kafka_admin.py delete-topics --bootstrap HOST:PORT [--timeout S] TOPIC...
    kafka_admin.py describe      --bootstrap HOST:PORT [--timeout S] [TOPIC...]

wait           polls the broker's metadata until it answers with its broker list, of at least
               --brokers (default 1) brokers (exit 0), or the timeout passes / a broker
               process --pid dies (exit 1, prints the tail of --log).
create-topics  creates the topics (replication factor --replication-factor, default 1) and
               waits until every partition has a leader; a topic that already exists is fine, whatever its partition count.
               --partitions defaults to $AIMEM_KAFKA_PARTITIONS, else 4; --config sets a topic
               setting (e.g. cleanup.policy=compact) on the topics it creates.
delete-topics  deletes the topics; a topic that does not exist is fine.
describe       prints "TOPIC PARTITIONS" per line, sorted (internal __ topics only if named).

Uses the Debian python3-confluent-kafka, so run it with /usr/bin/python3. Exit status 0 on
success, 1 on failure, 2 on bad usage.
"""

import argparse
import logging
import os
import sys
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic


def fail(msg):
    print(f"kafka_admin: {msg}", file=sys.stderr)
    sys.exit(1)


def admin(bootstrap):
    """An AdminClient that keeps quiet about connection errors and retries connects fast."""
    quiet = logging.getLogger("kafka_admin.librdkafka")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    return AdminClient({
        "bootstrap.servers": bootstrap,
        "logger": quiet,
        "error_cb": lambda err: None,
        # The default backoff grows to 10 s, which would make `wait` lag behind the broker.
        "reconnect.backoff.ms": 100,
        "reconnect.backoff.max.ms": 250,
    })


def pid_alive(pid):
    """True if the process exists and is not a zombie (nobody may be reaping it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def log_tail(path, lines=15):
    """The ERROR lines and the last lines of a log, or '' if it is empty."""
    try:
        with open(path, errors="replace") as f:
            text = f.readlines()
    except OSError as e:
        return f"--- cannot read {path}: {e}\n"
    if not text:
        return ""
    errors = [line for line in text if " ERROR " in line or " FATAL " in line][-10:]
    out = ""
    if errors:
        out += f"--- ERROR lines of {path}:\n" + "".join(errors)
    return out + f"--- last lines of {path}:\n" + "".join(text[-lines:])


def metadata(client, timeout):
    try:
        return client.list_topics(timeout=timeout)
    except KafkaException as e:
        fail(f"cannot get metadata: {e.args[0] if e.args else e}")


def cmd_wait(args):
    client = admin(args.bootstrap)
    deadline = time.monotonic() + args.timeout
    while True:
        for pid in args.pid:
            if not pid_alive(pid):
                fail(f"broker process {pid} died before it was ready"
                     + "".join("\n" + log_tail(log) for log in args.log).rstrip("\n"))
        try:
            md = client.list_topics(timeout=1)
            if md.brokers and len(md.brokers) >= args.brokers:
                return 0
        except KafkaException:
            pass
        if time.monotonic() >= deadline:
            fail(f"broker at {args.bootstrap} not ready after {args.timeout:g} s"
                 + (f"; see {' and '.join(args.log)}" if args.log else ""))
        time.sleep(0.1)


def wait_for_leaders(client, topics, deadline):
    """Polls metadata until every partition of every topic has a leader."""
    while True:
        md = client.list_topics(timeout=max(1.0, deadline - time.monotonic()))
        pending = []
        for t in topics:
            tm = md.topics.get(t)
            if tm is None or tm.error is not None or not tm.partitions or any(
                    p.leader < 0 for p in tm.partitions.values()):
                pending.append(t)
        if not pending:
            return
        if time.monotonic() >= deadline:
            fail(f"topics without partition leaders after the timeout: {' '.join(pending)}")
        time.sleep(0.1)


def cmd_create(args):
    client = admin(args.bootstrap)
    deadline = time.monotonic() + args.timeout
    config = dict(kv.split("=", 1) for kv in args.config)
    new = [NewTopic(t, num_partitions=args.partitions, replication_factor=args.replication_factor,
                    config=config)
           for t in args.topics]
    futures = client.create_topics(new, operation_timeout=args.timeout, request_timeout=args.timeout)
    errors = []
    for topic, fut in futures.items():
        try:
            fut.result()
            print(f"kafka_admin: created {topic} ({args.partitions} partitions)", file=sys.stderr)
        except KafkaException as e:
            err = e.args[0]
            if err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                print(f"kafka_admin: exists {topic}", file=sys.stderr)
            else:
                errors.append(f"{topic}: {err.str()}")
    if errors:
        fail("create-topics failed: " + "; ".join(errors))
    wait_for_leaders(client, args.topics, deadline)
    return 0


def cmd_delete(args):
    client = admin(args.bootstrap)
    futures = client.delete_topics(args.topics, operation_timeout=args.timeout,
                                   request_timeout=args.timeout)
    errors = []
    for topic, fut in futures.items():
        try:
            fut.result()
            print(f"kafka_admin: deleted {topic}", file=sys.stderr)
        except KafkaException as e:
            err = e.args[0]
            if err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                print(f"kafka_admin: absent {topic}", file=sys.stderr)
            else:
                errors.append(f"{topic}: {err.str()}")
    if errors:
        fail("delete-topics failed: " + "; ".join(errors))
    return 0


def cmd_describe(args):
    md = metadata(admin(args.bootstrap), args.timeout)
    names = args.topics or sorted(t for t in md.topics if not t.startswith("__"))
    status = 0
    for name in names:
        tm = md.topics.get(name)
        if tm is None or tm.error is not None:
            print(f"kafka_admin: no such topic: {name}", file=sys.stderr)
            status = 1
            continue
        print(f"{name} {len(tm.partitions)}")
    return status


def default_partitions():
    value = os.environ.get("AIMEM_KAFKA_PARTITIONS", "4")
    try:
        return int(value)
    except ValueError:
        fail(f"AIMEM_KAFKA_PARTITIONS is not a number: {value!r}")


def parse(argv):
    p = argparse.ArgumentParser(
        prog="kafka_admin.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, func, help_text, timeout):
        c = sub.add_parser(name, help=help_text, description=help_text)
        c.add_argument("--bootstrap", required=True, metavar="HOST:PORT")
        c.add_argument("--timeout", type=float, default=timeout, metavar="SECONDS")
        c.set_defaults(func=func)
        return c

    c = command("wait", cmd_wait, "wait until the broker answers with its broker list", 90)
    c.add_argument("--pid", type=int, action="append", default=[],
                   help="give up at once if this process dies (repeatable)")
    c.add_argument("--brokers", type=int, default=1, metavar="N",
                   help="wait until the metadata lists at least N brokers")
    c.add_argument("--log", action="append", default=[],
                   help="log file whose tail to print when giving up (repeatable)")

    c = command("create-topics", cmd_create, "create topics (existing ones are fine)", 30)
    c.add_argument("--partitions", type=int, default=None, metavar="N")
    c.add_argument("--replication-factor", type=int, default=1, metavar="N")
    c.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                   type=lambda kv: kv if "=" in kv else fail(f"--config takes KEY=VALUE: {kv!r}"))
    c.add_argument("topics", nargs="+", metavar="TOPIC")

    c = command("delete-topics", cmd_delete, "delete topics (absent ones are fine)", 30)
    c.add_argument("topics", nargs="+", metavar="TOPIC")

    c = command("describe", cmd_describe, "print TOPIC PARTITIONS per line", 10)
    c.add_argument("topics", nargs="*", metavar="TOPIC")

    args = p.parse_args(argv)
    if getattr(args, "partitions", 0) is None:
        args.partitions = default_partitions()
    return args


def main(argv):
    args = parse(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
