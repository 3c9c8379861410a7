"""The soak's API load (issue 17 item 8): an open-loop, paced client in a process of its own.

Request k is due at start + k / rps, whatever happened to the ones before it: a scheduler
thread hands each due request to a pool of worker threads (one keep-alive connection each), and
its latency is counted from its due time, so a moment when every connection is busy or the
server stalls is charged to the requests that waited (no coordinated omission). The process is
separate from the soak's driver so the driver's own work (invariant checks, log scans, the
event producer) cannot hold this client's interpreter lock and slow the load down.

Every answer is checked for another tenant's canary here (the same check as
invariants.check_answers). Results go to the driver as batches of per-request records
(due offset s, latency s, sent-late s, status or None for a connection error, leaked 0/1).
"""
import os
import queue
import random
import threading
import time

ROUTES = ("/v3/callers/{u}/context?summaries=5", "/v3/callers/{u}/summaries?limit=20",
          "/v3/callers/{u}/profile", "/v3/callers/{u}/personality?recent=5",
          "/v3/callers?limit=50", "/v3/search?q=billing%20discount&limit=10",
          "/v3/search?q=card&user_id={u}&mode=text")


def run(port, rps, tokens, canaries, users, seed, out, stop, connections=16):
    """port: a multiprocessing.Value the driver keeps at aimem-query's current port; out: a
    multiprocessing.Queue: first ("start", t) with the time origin (time.monotonic(): on Linux
    CLOCK_MONOTONIC is one clock for every process), then record batches, last ("scheduled", k);
    stop: a multiprocessing.Event."""
    import invariants  # the driver's sys.path (spawn copies it)
    try:  # the instrument ahead of the machine's other work: the latency it counts from each
        os.nice(-10)  # due time should be the service's, not this client's wait for a core
    except OSError:  # (not root: the same client at normal priority; its lateness is counted)
        pass
    from query_data import Client

    tenants = sorted(tokens)
    due_q = queue.Queue()
    lock = threading.Lock()
    batch = []

    def worker(i):
        rng = random.Random(seed * 1000 + i)
        client = None
        while True:
            k = due_q.get()
            if k is None:
                return
            due = t_start + k / rps
            t = rng.choice(tenants)
            path = rng.choice(ROUTES).format(u=rng.choice(users))
            p = port.value
            if client is None or client.port != p:
                client = Client(p)
            sent = time.monotonic()
            try:
                status, _, raw = client.request("GET", path, token=tokens[t])
            except Exception:  # noqa: BLE001 — counted as an error, the load goes on
                status, raw = None, b""
                client = None
            end = time.monotonic()
            leaked = invariants.check_answers([{"tenant": t, "body": raw.decode(errors="replace")}], canaries)["xtenant"]
            with lock:
                batch.append((round(due - t_start, 4), end - due, sent - due, status, leaked))

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for th in pool:
        th.start()
    t_start = time.monotonic()
    out.put(("start", t_start))
    k = 0
    last_flush = time.monotonic()
    parent = os.getppid()
    while not stop.is_set() and os.getppid() == parent:  # the driver gone: stop too
        due = t_start + k / rps
        now = time.monotonic()
        if due > now:
            time.sleep(min(due - now, 0.2))
            continue
        due_q.put(k)
        k += 1
        if now - last_flush >= 1.0:
            with lock:
                out.put(batch[:])
                batch.clear()
            last_flush = now
    for _ in pool:
        due_q.put(None)
    for th in pool:
        th.join(35)
    with lock:
        out.put(batch[:])
        out.put(("scheduled", k))
