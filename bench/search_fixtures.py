#!/usr/bin/env python3
"""Inputs for the search benchmark (bench/search.sh).

  search_fixtures.py turns > TURNS
      every turn of tests/fixtures/transcripts as aimem-embedder writes it ("Caller: ..." /
      "Agent: ..."), one per line, distinct
  search_fixtures.py seed-sql TURNS VECTORS TENANT CALLS PER_CALL > SQL
      SQL (psql, as postgres) that stores CALLS calls of PER_CALL passages each in one tenant,
      as aimem-embedder would have: each passage 16 random turns (~200 words) plus 4 words of
      a 20,000-word made-up vocabulary drawn with a skew (names, streets, products: the
      long tail of real calls) and a reference number (a lexeme of its own); its vector the
      normalised sum of its turns' MiniLM vectors plus noise (so passages differ as real
      ones do); model all-MiniLM-L6-v2/1; a summary per call; the tenant's term statistics
      recounted; the GIN and HNSW indexes built after the load
  search_fixtures.py queries TURNS N > QUERIES
      N queries, one per line: a third short (2-3 words, like a topic), a third long
      (15-25 words of one turn, like a known-item description), a third long with a word of
      the made-up vocabulary (a name or a product)
  search_fixtures.py requests SECRET PORT TENANT QUERIES MODE > FILE
      the queries as raw GET /v3/search requests (NUL-separated, for loadgen --requests)
"""
import glob
import json
import os
import random
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from query_fixtures import token  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABEL = {"user": "Caller: ", "assistant": "Agent: "}
SYLLABLES = ["ka", "lo", "mer", "tan", "vi", "shu", "bre", "dal", "quo", "ren", "zi", "pom",
             "gar", "wex", "nil", "tor", "ash", "fen", "ul", "cre", "mab", "sot", "yel", "hov",
             "jun", "pri", "dro", "ves", "lum", "kir"]


def vocabulary():
    """20,000 made-up words, the same on every run."""
    rnd = random.Random(1414)
    words = set()
    while len(words) < 20000:
        words.add("".join(rnd.choice(SYLLABLES) for _ in range(rnd.randint(2, 4))))
    return sorted(words)


def turns():
    seen = []
    for path in sorted(glob.glob(os.path.join(REPO, "tests/fixtures/transcripts/[0-9][0-9]_*.json"))):
        if path.endswith(".expect.json"):
            continue
        for t in json.load(open(path)).get("turns", []):
            text = LABEL.get(t.get("role"), "Agent: ") + " ".join(t.get("text", "").split())
            if text not in seen and len(t.get("text", "").split()) > 0:
                seen.append(text)
    return seen


def copy_escape(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


SEED_SQL = """
\\set ON_ERROR_STOP 1
SET maintenance_work_mem = '2GB';
SET max_parallel_maintenance_workers = 1;
SET synchronous_commit = off;
CREATE TEMP TABLE bt (i int PRIMARY KEY, content text, words int, vec vector(384));
COPY bt FROM stdin;
{turns}
\\.
CREATE TEMP TABLE bw (i int PRIMARY KEY, w text);
COPY bw FROM stdin;
{words}
\\.
-- 1,024 noise vectors of norm about 1.5 (a turn's vector has norm 1; a passage sums 16)
CREATE TEMP TABLE bn AS SELECT i, (SELECT array_agg((random() - 0.5) * 0.27)::real[]
    FROM generate_series(1, 384) WHERE i >= 0)::vector(384) AS vec FROM generate_series(0, 1023) i;
ALTER TABLE bn ADD PRIMARY KEY (i);
ANALYZE bt; ANALYZE bw; ANALYZE bn;
DROP INDEX IF EXISTS call_chunks_embedding;
-- the postings (migration 010) are written in bulk below rather than by the triggers, and
-- their key is built once after
ALTER TABLE call_chunks DISABLE TRIGGER USER;
ALTER TABLE call_summaries DISABLE TRIGGER USER;
ALTER TABLE search_postings DROP CONSTRAINT search_postings_pkey;
DELETE FROM call_chunks WHERE customer_id = {tenant};
DELETE FROM search_terms WHERE customer_id = {tenant};
DELETE FROM search_stats WHERE customer_id = {tenant};
DELETE FROM call_summaries WHERE customer_id = {tenant};
DELETE FROM search_postings WHERE customer_id = {tenant};
\\echo bench: writing passages
INSERT INTO call_chunks (customer_id, call_id, chunk_no, user_id, call_ended_at, content, words,
    tsv, model, embedding, event_id)
SELECT {tenant}, 'CB' || c, k, (5550000000 + c % 20000)::text,
       now() - c * interval '1 minute', p.content, p.words, to_tsvector('english', p.content),
       'all-MiniLM-L6-v2/1', p.vec, gen_random_uuid()
FROM generate_series(1, {calls}) c, generate_series(0, {per_call} - 1) k,
LATERAL (SELECT floor(random() * 1024)::int AS ni WHERE c > 0 AND k >= 0) nz,
LATERAL (SELECT string_agg(bt.content, E'\\n') || E'\\nCaller: ' || (SELECT string_agg(bw.w, ' ')
             FROM (SELECT floor(20000 * power(random(), 3))::int AS j
                   FROM generate_series(1, 4) WHERE c > 0 AND k >= 0) x JOIN bw ON bw.i = x.j)
             || ' reference ' || (100000 + floor(random() * 900000))::int AS content,
             sum(bt.words)::int + 6 AS words,
             l2_normalize(sum(bt.vec) + (SELECT bn.vec FROM bn WHERE bn.i = nz.ni)) AS vec
         FROM (SELECT 1 + floor(random() * {nturns})::int AS j
               FROM generate_series(1, 16) WHERE c > 0 AND k >= 0) r JOIN bt ON bt.i = r.j) p;
\\echo bench: writing summaries and statistics
INSERT INTO call_summaries (customer_id, call_id, user_id, call_started_at, call_ended_at, summary,
    key_topics, key_variables, sentiment, resolution_status, duration_seconds, search_tsv,
    processor, event_id)
SELECT {tenant}, call_id, user_id, call_ended_at - interval '6 minutes', call_ended_at,
       left(content, 300), '["billing"]', '{{}}', 'neutral', 'resolved', 360,
       to_tsvector('english', left(content, 300)), 'builtin-extractive/1', gen_random_uuid()
FROM call_chunks WHERE customer_id = {tenant} AND chunk_no = 0;
INSERT INTO search_stats (customer_id, passages, words)
SELECT {tenant}, count(*), sum(words) FROM call_chunks WHERE customer_id = {tenant};
INSERT INTO search_terms (customer_id, lexeme, df)
SELECT {tenant}, lexeme, count(*) FROM call_chunks, unnest(tsvector_to_array(tsv)) AS lexeme
WHERE customer_id = {tenant} GROUP BY lexeme;
\\echo bench: writing the postings
INSERT INTO search_postings (customer_id, lexeme, tf, call_id, chunk_no, words)
SELECT customer_id, lexeme, tf, call_id, chunk_no, words FROM (
    SELECT c.customer_id, u.lexeme, greatest(coalesce(cardinality(u.positions), 0), 1) AS tf,
           c.call_id, c.chunk_no, c.words FROM call_chunks c, unnest(c.tsv) u
    WHERE c.customer_id = {tenant}
    UNION ALL
    SELECT s.customer_id, u.lexeme, greatest(coalesce(cardinality(u.positions), 0), 1),
           s.call_id, -1, 0 FROM call_summaries s, unnest(s.search_tsv) u
    WHERE s.customer_id = {tenant}) x;
ALTER TABLE search_postings
    ADD PRIMARY KEY (customer_id, lexeme, tf, call_id, chunk_no) INCLUDE (words);
ALTER TABLE call_chunks ENABLE TRIGGER USER;
ALTER TABLE call_summaries ENABLE TRIGGER USER;
\\echo bench: building the HNSW index
CREATE INDEX call_chunks_embedding ON call_chunks USING hnsw (embedding vector_cosine_ops);
VACUUM ANALYZE call_chunks;
VACUUM ANALYZE call_summaries;
VACUUM ANALYZE search_terms;
VACUUM ANALYZE search_postings;
"""


def seed_sql(turns_path, vectors_path, tenant, calls, per_call):
    texts = [l.rstrip("\n") for l in open(turns_path, encoding="utf-8")]
    vecs = [l.rstrip("\n") for l in open(vectors_path)]
    assert len(texts) == len(vecs), "one vector per turn"
    rows = "\n".join(f"{i + 1}\t{copy_escape(t)}\t{len(t.split()) - 1}\t{v}"
                     for i, (t, v) in enumerate(zip(texts, vecs)))
    words = "\n".join(f"{i}\t{w}" for i, w in enumerate(vocabulary()))
    sys.stdout.write(SEED_SQL.format(turns=rows, words=words, tenant=tenant, calls=calls,
                                     per_call=per_call, nturns=len(texts)))


def queries(turns_path, n):
    rnd = random.Random(99)
    texts = [l.rstrip("\n").split(": ", 1)[1] for l in open(turns_path, encoding="utf-8")]
    vocab = vocabulary()
    content = [w for t in texts for w in t.split() if len(w) > 4 and w.isalpha()]
    out = []
    for i in range(n):
        if i % 3 == 0:
            q = " ".join(rnd.choice(content) for _ in range(rnd.randint(2, 3)))
        else:
            words = rnd.choice([t for t in texts if len(t.split()) >= 15] or texts).split()
            start = rnd.randint(0, max(0, len(words) - 15))
            q = " ".join(words[start:start + rnd.randint(15, 25)])
            if i % 3 == 2:
                q += " " + vocab[int(20000 * rnd.random() ** 3)]
        out.append(q)
    print("\n".join(out))


def requests(secret, port, tenant, queries_path, mode):
    tok = token(secret, int(tenant))
    out = sys.stdout.buffer
    for q in open(queries_path, encoding="utf-8"):
        path = "/v3/search?" + urllib.parse.urlencode({"q": q.strip(), "mode": mode, "limit": 10})
        req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Authorization: Bearer {tok}\r\n\r\n")
        out.write(req.encode() + b"\0")


def main():
    a = sys.argv[1:]
    if a[:1] == ["turns"]:
        print("\n".join(turns()))
    elif a[:1] == ["seed-sql"] and len(a) == 6:
        seed_sql(a[1], a[2], int(a[3]), int(a[4]), int(a[5]))
    elif a[:1] == ["queries"] and len(a) == 3:
        queries(a[1], int(a[2]))
    elif a[:1] == ["requests"] and len(a) == 6:
        requests(*a[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
