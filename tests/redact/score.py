#!/usr/bin/env python3
"""Precision and recall of the redactor per kind on the labelled corpus (gen_corpus.py).

    tests/redact/score.py [--build build] [--seed 20] [--calls 1000] [--kinds default|all]

Generates the corpus, runs it through lib/redact (build/tests/redact_text), and compares:
a labelled value counts as found (true positive) when its turns carry a placeholder of its
kind and the value can no longer be read from them in any digit form (written, spoken, split);
every other placeholder of that kind is a false positive; a value still readable, or replaced
by the wrong placeholder, is a miss. Near-misses (kind "none", and opt-in kinds the run does not
enable) must survive: their survival rate is reported, and a near-miss a placeholder swallowed
counts as a false positive of that placeholder's kind when one was added in its turn.
"""
import argparse
import collections
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
import gen_corpus  # noqa: E402

DEFAULT = ["card", "cvv", "expiry", "ssn", "bank_account", "routing", "iban"]
OPT_IN = ["email", "phone", "dob", "address"]
TAG = {"card": "[CARD", "cvv": "[CVV]", "expiry": "[EXPIRY]", "ssn": "[SSN]",
       "bank_account": "[BANK ACCOUNT]", "routing": "[ROUTING]", "iban": "[IBAN]",
       "email": "[EMAIL]", "phone": "[PHONE]", "dob": "[DOB]", "address": "[ADDRESS]"}
UNITS = {"zero": 0, "oh": 0, "o": 0, "one": 1, "won": 1, "two": 2, "to": 2, "too": 2, "three": 3,
         "four": 4, "for": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "ate": 8, "nine": 9}
TEENS = {w: 10 + i for i, w in enumerate(gen_corpus.TEENS)}
TENS = {w: i for i, w in enumerate(gen_corpus.TENS) if w}
MONTHS = {m.lower(): i + 1 for i, m in enumerate(gen_corpus.MONTHS)}


def digit_forms(text):
    """Every digit the text says or writes, in order (months as two digits)."""
    out, mult, tens = [], 1, None
    for tok in re.findall(r"[0-9]|[A-Za-z]+", text):
        t = tok.lower()
        if tens is not None:
            if t in UNITS and UNITS[t] > 0:
                out.append(f"{tens}{UNITS[t]}")
                tens = None
                continue
            out.append(f"{tens}0")
            tens = None
        if t.isdigit():
            out.append(t * mult)
            mult = 1
        elif t in UNITS:
            out.append(str(UNITS[t]) * mult)
            mult = 1
        elif t in TEENS:
            out.append(str(TEENS[t]))
        elif t in TENS:
            tens = TENS[t]
        elif t in MONTHS:
            out.append(f"{MONTHS[t]:02d}")
        elif t in ("double", "triple"):
            mult = 2 if t == "double" else 3
    if tens is not None:
        out.append(f"{tens}0")
    return "".join(out)


def readable(value, text):
    if re.fullmatch(r"[0-9]+", value):
        return value in digit_forms(text) or value in re.sub(r"[^0-9]", "", text)
    return value.lower() in text.lower() or value.replace(" ", "") in text.replace(" ", "")


def score(calls, outs, kinds):
    tp, fp, fn, true = (collections.Counter() for _ in range(4))
    near_total = near_kept = 0
    for call, out in zip(calls, outs):
        texts = out["turns"]
        matched = collections.Counter()
        for lab in call["labels"]:
            kind = lab["kind"]
            joined = " ".join(texts[i] for i in lab["turns"])
            if kind == "none" or kind not in kinds:
                near_total += 1
                near_kept += readable(lab["value"], joined)
                continue
            true[kind] += 1
            if TAG[kind] in joined and not readable(lab["value"], joined):
                matched[kind] += 1
        labelled = collections.Counter(lab["kind"] for lab in call["labels"])
        for kind in kinds:
            found = out["counts"].get(kind, 0)
            hit = min(matched[kind], found)
            tp[kind] += hit
            fp[kind] += found - hit
            fn[kind] += labelled[kind] - hit
    return tp, fp, fn, true, near_total, near_kept


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--kinds", choices=["default", "all"], default="default")
    args = ap.parse_args()
    import random
    rnd = random.Random(args.seed)
    calls = [gen_corpus.make_call(rnd) for _ in range(args.calls)]
    kinds = DEFAULT + (OPT_IN if args.kinds == "all" else [])
    proc = subprocess.run([str(Path(args.build) / "tests/redact_text"), ",".join(kinds)],
                          input="".join(json.dumps(c) + "\n" for c in calls), text=True,
                          capture_output=True, check=True)
    outs = [json.loads(line) for line in proc.stdout.splitlines()]
    tp, fp, fn, true, near_total, near_kept = score(calls, outs, kinds)
    print(f"corpus: seed {args.seed}, {args.calls} calls, kinds {args.kinds}")
    print(f"{'kind':<14}{'labelled':>9}{'found':>7}{'false+':>8}{'missed':>8}{'precision':>11}{'recall':>8}")
    for kind in kinds:
        p = tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else float("nan")
        r = tp[kind] / true[kind] if true[kind] else float("nan")
        print(f"{kind:<14}{true[kind]:>9}{tp[kind]:>7}{fp[kind]:>8}{fn[kind]:>8}{p:>11.3f}{r:>8.3f}")
    print(f"near-misses kept intact: {near_kept}/{near_total} ({near_kept / max(near_total, 1):.3f})")
    print(proc.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
