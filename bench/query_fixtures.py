#!/usr/bin/env python3
"""Inputs for the query benchmark (bench/query.sh).

  query_fixtures.py seed-sql TENANTS CALLERS CALLS      # SQL that fills the dataset
  query_fixtures.py requests SECRET PORT TENANTS CALLERS N context|enriched > FILE
      # N raw HTTP requests (NUL-separated, for loadgen --requests) for random callers of
      # random tenants, each with its tenant's HS256 token
  query_fixtures.py pgbench-script SQLFILE TENANTS CALLERS > FILE
      # the context read as aimem-query sends it (one pipeline: BEGIN READ ONLY, the tenant,
      # the statement, COMMIT), for pgbench -M prepared

Callers are numbered 1..CALLERS in every tenant; user_id = 5550000000 + n.
"""
import base64
import hashlib
import hmac
import json
import random
import sys
import time


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(secret, tenant):
    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"customer_id": tenant, "scope": "memory:read", "iat": now,
                           "exp": now + 3 * 3600}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


SEED = """
INSERT INTO caller_profiles (customer_id, user_id, preferred_name, total_calls, first_call_at,
    last_call_at)
SELECT t, (5550000000 + c)::text, (ARRAY['Kelly', 'Marco', 'Ana Lopez', 'Sam'])[1 + c %% 4],
       %(calls)d, now() - interval '400 days', now() - (c %% 30) * interval '1 day'
FROM generate_series(1, %(tenants)d) t, generate_series(1, %(callers)d) c;

INSERT INTO personality_averages (customer_id, user_id, call_count, avg_openness,
    avg_conscientiousness, avg_extraversion, avg_agreeableness, avg_neuroticism, avg_formality,
    avg_directness, avg_detail_orientation, avg_patience, avg_technical_comfort,
    recent_frustration, recent_satisfaction, recent_urgency, satisfaction_trend,
    frustration_trend)
SELECT t, (5550000000 + c)::text, %(calls)d, 50, 55, 45, 60, 40, 30 + c %% 50, 40 + c %% 40,
       60, 55, 20 + c %% 60, 25, 70, 30, 'improving', 'stable'
FROM generate_series(1, %(tenants)d) t, generate_series(1, %(callers)d) c;

INSERT INTO call_summaries (customer_id, call_id, user_id, call_started_at, call_ended_at,
    summary, key_topics, key_variables, sentiment, resolution_status, duration_seconds,
    processor, event_id)
SELECT t, 'CA' || t || '-' || c || '-' || k, (5550000000 + c)::text,
       now() - (k * 7 + c %% 7) * interval '1 day' - interval '6 minutes',
       now() - (k * 7 + c %% 7) * interval '1 day',
       'The caller reported that the monthly auto premium went up after renewal and asked '
       || 'why the bundle discount disappeared. The agent found a misapplied payment of '
       || '$212.00, moved it to the right policy and confirmed the corrected premium of '
       || '$118.40; an updated statement will follow by email.',
       '["billing", "auto_policy"]', '{"policy_number": "AP-449120", "amount": "$118.40"}',
       'neutral', 'resolved', 360, 'builtin-extractive/1', gen_random_uuid()
FROM generate_series(1, %(tenants)d) t, generate_series(1, %(callers)d) c,
     generate_series(1, %(calls)d) k;

VACUUM ANALYZE;
"""


def main():
    cmd = sys.argv[1]
    if cmd == "seed-sql":
        t, c, k = map(int, sys.argv[2:5])
        sys.stdout.write(SEED % {"tenants": t, "callers": c, "calls": k})
    elif cmd == "requests":
        secret, port, tenants, callers, n, kind = sys.argv[2:8]
        tenants, callers, n = int(tenants), int(callers), int(n)
        tokens = {t: token(secret, t) for t in range(1, tenants + 1)}
        rnd = random.Random(42)
        out = sys.stdout.buffer
        for _ in range(n):
            t, c = rnd.randint(1, tenants), rnd.randint(1, callers)
            uid = 5550000000 + c
            head = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {tokens[t]}\r\n"
            if kind == "context":
                req = f"GET /v3/callers/{uid}/context?summaries=5 HTTP/1.1\r\n{head}\r\n"
            else:
                body = json.dumps({"user_id": str(uid), "num_summaries": 5})
                req = (f"POST /v2/context/enriched HTTP/1.1\r\n{head}Content-Type: "
                       f"application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}")
            out.write(req.encode() + b"\0")
    elif cmd == "pgbench-script":
        sql = open(sys.argv[2]).read().strip().rstrip(";")
        tenants, callers = int(sys.argv[3]), int(sys.argv[4])
        sql = sql.replace("$1", ":uid").replace("$2", "5")
        print(f"\\set t random(1, {tenants})\n\\set uid 5550000000 + random(1, {callers})")
        print("\\startpipeline\nBEGIN READ ONLY;")
        print("SELECT set_config('app.current_tenant', :t, true);")
        print(" ".join(sql.split()) + ";")
        print("COMMIT;\n\\endpipeline")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
