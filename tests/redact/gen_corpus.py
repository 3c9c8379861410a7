#!/usr/bin/env python3
"""A labelled corpus of phone-agent calls for the redactor (issue 20), generated from a seed.

    tests/redact/gen_corpus.py [--seed N] [--calls N] > corpus.jsonl

Each line is one call: {"turns": [{"role", "text"}], "labels": [...]}. A label is
{"kind": "card"|"cvv"|"expiry"|"ssn"|"bank_account"|"routing"|"iban"|"email"|"phone"|"dob"|
"address"|"none", "value": the digits (or the text for e-mail and address), "turns": [i, ...]}:
what a perfect redactor removes, or, for kind "none", a near-miss it must leave: order, policy,
confirmation and tracking numbers, amounts, times, zip codes, phone numbers (a near-miss unless the
tenant opted in to phone), a Luhn-invalid 16-digit number.

Forms: written with spaces, dashes or nothing; spoken digit by digit ("four one one one"), with
"oh" for zero, "double"/"triple", pairs ("forty one"), "four hundred twelve" for a CVV, fillers
("uh"), split across two of the caller's turns with the agent's "mm-hmm" between (or, rarely, a
real question), and ASR-style errors (homophones "for", "to", "ate", "won"; a group written in
words among digits; a lost word, which breaks the value's checksum). Nothing here reads the redactor: tests/redact/score.py compares its output
with these labels.
"""
import argparse
import json
import random

SAID = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ASR = {"4": ["for"], "2": ["to", "too"], "8": ["ate"], "1": ["won"]}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
ACKS = ["mm-hmm", "okay", "go on", "uh-huh", "yes", "got it"]
NAMES = ["Dana Reyes", "Kelly Nguyen", "Omar Haddad", "Priya Shah", "Tom Becker", "Ana Lopez"]
STREETS = ["Baker Street", "Oak Avenue", "Maple Drive", "Sunset Boulevard", "Elm Road", "Park Lane"]


def luhn_complete(prefix, length, rnd):
    body = prefix + "".join(rnd.choice("0123456789") for _ in range(length - len(prefix) - 1))
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def luhn_ok(number):
    total = 0
    for i, c in enumerate(reversed(number)):
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def card_number(rnd):
    prefix, length = rnd.choice([("4", 16), ("4", 16), ("51", 16), ("55", 16), ("2221", 16),
                                 ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("4", 13)])
    return luhn_complete(prefix, length, rnd)


def aba(rnd):
    while True:
        d = [rnd.randint(0, 9) for _ in range(8)]
        if d[0] == 0 and d[1] == 0:
            continue
        s = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5])
        for last in range(10):
            if (s + last) % 10 == 0:
                return "".join(map(str, d)) + str(last)


def ssn(rnd):
    while True:
        area = rnd.randint(1, 899)
        if area != 666:
            return f"{area:03d}{rnd.randint(1, 99):02d}{rnd.randint(1, 9999):04d}"


def iban(rnd):
    country, bban = rnd.choice([("DE", lambda: "".join(rnd.choice("0123456789") for _ in range(18))),
                                ("GB", lambda: rnd.choice(["WEST", "NWBK", "BARC"]) +
                                 "".join(rnd.choice("0123456789") for _ in range(14))),
                                ("FR", lambda: "".join(rnd.choice("0123456789") for _ in range(23)))])
    b = bban()
    digits = "".join(str(int(c, 36)) for c in b + country) + "00"
    check = 98 - int(digits) % 97
    raw = f"{country}{check:02d}{b}"
    return raw, " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def say_digits(digits, rnd, asr=0.0):
    """Digit by digit, with 'oh', 'double', pairs and homophones."""
    words, i = [], 0
    while i < len(digits):
        d = digits[i]
        run = 1
        while i + run < len(digits) and digits[i + run] == d and run < 3:
            run += 1
        if run >= 2 and rnd.random() < 0.5:
            words.append(("double " if run == 2 else "triple ") + SAID[int(d)])
            i += run
            continue
        if d != "0" and i + 1 < len(digits) and rnd.random() < 0.15:
            pair = digits[i:i + 2]
            if pair[0] == "1":
                words.append(TEENS[int(pair[1])])
                i += 2
                continue
            if pair[0] >= "2" and pair[1] != "0":
                words.append(f"{TENS[int(pair[0])]} {SAID[int(pair[1])]}")
                i += 2
                continue
        if d == "0":
            words.append(rnd.choice(["oh", "oh", "zero"]))
        elif d in ASR and rnd.random() < asr:
            words.append(rnd.choice(ASR[d]))
        else:
            words.append(SAID[int(d)])
        i += 1
    return words


def group(words, size, rnd):
    out = []
    for i in range(0, len(words), size):
        out.append(" ".join(words[i:i + size]))
    sep = rnd.choice([", ", " ", "... ", ", uh, "])
    return sep.join(out)


def written(digits, rnd, blocks=(4,)):
    size = rnd.choice(blocks)
    sep = rnd.choice([" ", "-", "", " "])
    return sep.join(digits[i:i + size] for i in range(0, len(digits), size))


class Call:
    def __init__(self, rnd):
        self.rnd = rnd
        self.turns = []
        self.labels = []

    def say(self, role, text):
        self.turns.append({"role": role, "text": text})
        return len(self.turns) - 1

    def label(self, kind, value, turns):
        self.labels.append({"kind": kind, "value": value, "turns": list(turns)})

    def spoken_value(self, digits, lead, asr=0.1, split=True):
        """The caller says digits, maybe across turns with the agent's acks between."""
        rnd = self.rnd
        words = say_digits(digits, rnd, asr)
        if len(words) > 8 and rnd.random() < 0.03:  # ASR lost a word: the value is broken
            del words[rnd.randrange(len(words))]
        parts = [words]
        if split and len(words) > 6 and rnd.random() < 0.5:
            cut = rnd.randint(3, len(words) - 3)
            parts = [words[:cut], words[cut:]]
        idx = []
        for n, part in enumerate(parts):
            text = group(part, 4, rnd)
            if n == 0 and lead:
                text = f"{lead} {text}"
            idx.append(self.say("user", text))
            if n + 1 < len(parts) and rnd.random() < 0.05:  # a real interruption
                self.say("assistant", "sorry, was that a five or a nine?")
            elif n + 1 < len(parts) and rnd.random() < 0.7:
                self.say("assistant", rnd.choice(ACKS))
        return idx


def card_call(c, rnd):
    number = card_number(rnd)
    c.say("assistant", rnd.choice(["Can I get the card number, please?",
                                    "Go ahead with the long number on the card.",
                                    "What card would you like to use?"]))
    if rnd.random() < 0.5:
        t = c.spoken_value(number, rnd.choice(["Sure, it's", "Yeah", "Okay so", ""]))
    else:
        blocks = (4, 5, 6) if len(number) == 15 else (4,)
        size = rnd.choice(blocks)
        groups = [number[i:i + size] for i in range(0, len(number), size)]
        sep = rnd.choice([" ", "-", "", " "])
        if rnd.random() < 0.2:  # ASR: one group written in words (so spaces around it)
            groups[1] = " ".join(SAID[int(x)] for x in groups[1])
            sep = " "
        text = sep.join(groups)
        t = [c.say("user", f"it's {text}")]
    c.label("card", number, t)
    if rnd.random() < 0.8:
        month, year = rnd.randint(1, 12), rnd.randint(25, 31)
        c.say("assistant", rnd.choice(["And the expiration date?", "When does it expire?",
                                        "Expiry date, please."]))
        form = rnd.random()
        if form < 0.4:
            text = f"{month:02d}/{year}"
        elif form < 0.7:
            said_year = f"twenty {SAID[year - 20]}" if year < 30 else (
                "thirty" if year == 30 else f"thirty {SAID[year - 30]}")
            text = f"{'oh ' + SAID[month] if month < 10 else TEENS[month - 10]} {said_year}"
        else:
            text = f"{MONTHS[month - 1]} 20{year}"
        c.label("expiry", f"{month:02d}{year}", [c.say("user", text)])
    if rnd.random() < 0.8:
        cvv = "".join(rnd.choice("0123456789") for _ in range(4 if len(number) == 15 else 3))
        c.say("assistant", rnd.choice(["And the security code on the back?",
                                        "The three digits on the back of the card?",
                                        "What's the CVV?"]))
        form = rnd.random()
        if form < 0.1 and cvv[0] != "0" and len(cvv) == 3 and cvv[1] != "0":  # "four hundred twelve"
            rest = int(cvv[1:])
            said = TEENS[rest - 10] if rest < 20 else TENS[rest // 10] + (
                f" {SAID[rest % 10]}" if rest % 10 else "")
            text = f"{SAID[int(cvv[0])]} hundred {said}"
        elif form < 0.5:
            text = " ".join(say_digits(cvv, rnd))
        else:
            text = cvv
        c.label("cvv", cvv, [c.say("user", rnd.choice(["", "it's ", "uh "]) + text)])


def ssn_call(c, rnd):
    value = ssn(rnd)
    c.say("assistant", rnd.choice(["To verify, can I have your social security number?",
                                    "I need your SSN to look that up."]))
    if rnd.random() < 0.5:
        t = c.spoken_value(value, rnd.choice(["it's", "sure,", ""]), split=False)
    else:
        t = [c.say("user", f"it's {value[:3]}-{value[3:5]}-{value[5:]}")]
    c.label("ssn", value, t)


def bank_call(c, rnd):
    routing = aba(rnd)
    account = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(8, 12)))
    c.say("assistant", "For the direct debit I need the routing number of your bank.")
    if rnd.random() < 0.5:
        t = c.spoken_value(routing, "the routing number is", split=False)
    else:
        t = [c.say("user", f"routing number {routing}")]
    c.label("routing", routing, t)
    c.say("assistant", rnd.choice(["And the checking account number?", "And the account number?"]))
    if rnd.random() < 0.5:
        t = c.spoken_value(account, "it's", split=False)
    else:
        t = [c.say("user", f"account {account}")]
    c.label("bank_account", account, t)


def iban_call(c, rnd):
    raw, shown = iban(rnd)
    c.say("assistant", "Can you give me the IBAN for the refund?")
    c.label("iban", raw, [c.say("user", f"yes it's {shown}")])


def near_misses(c, rnd):
    """Numbers that must stay: what a call centre's callers say all day."""
    for _ in range(rnd.randint(2, 4)):
        kind = rnd.choice(["order", "policy", "amount", "phone", "confirmation", "zip", "time",
                           "tracking", "order16"])
        if kind == "order":
            v = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(6, 12)))
            t = c.say("user", f"my order number is {written(v, rnd, (3, 4))}")
        elif kind == "order16":  # 16 digits, Luhn-invalid: looks like a card, is not
            while True:
                v = "".join(rnd.choice("0123456789") for _ in range(16))
                if not luhn_ok(v):
                    break
            t = c.say("user", f"the reference on the letter is {v}")
        elif kind == "policy":
            v = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(7, 10)))
            t = c.say("user", rnd.choice([f"policy number {v}", f"my policy is PN-{v}"]))
        elif kind == "amount" and rnd.random() < 0.5:
            dollars = rnd.randint(12, 4800)
            v = f"{dollars}{rnd.randint(0, 99):02d}"
            t = c.say("assistant", f"the balance is ${dollars:,}.{v[-2:]} due on the 14th")
        elif kind == "amount":  # said: "four hundred twelve dollars"
            h, rest = rnd.randint(1, 9), rnd.randint(11, 99)
            v = f"{h}{rest}"
            said = TEENS[rest - 10] if rest < 20 else TENS[rest // 10] + (
                f" {SAID[rest % 10]}" if rest % 10 else "")
            t = c.say("user", f"I paid {SAID[h]} hundred {said} dollars last week")
        elif kind == "phone":
            v = f"{rnd.randint(201, 989)}{rnd.randint(200, 999)}{rnd.randint(0, 9999):04d}"
            t = c.say("user", rnd.choice([f"call me back at {v[:3]}-{v[3:6]}-{v[6:]}",
                                          f"my cell is ({v[:3]}) {v[3:6]} {v[6:]}"]))
            c.label("phone", v, [t])
            continue
        elif kind == "confirmation":
            v = "".join(rnd.choice("0123456789") for _ in range(8))
            t = c.say("assistant", f"your confirmation number is {v}")
        elif kind == "zip":
            v = f"{rnd.randint(10000, 99999)}"
            t = c.say("user", f"zip code {v}")
        elif kind == "time":
            v = f"{rnd.randint(1, 12)}{rnd.choice(['00', '15', '30', '45'])}"
            t = c.say("assistant", f"we're open until {v[:-2]}:{v[-2:]} tonight")
        else:
            v = "1Z" + "".join(rnd.choice("0123456789") for _ in range(16))
            t = c.say("assistant", f"the tracking number is {v}")
            v = v[2:]
        c.label("none", v, [t])


def opt_in(c, rnd):
    name = rnd.choice(NAMES)
    first, last = name.lower().split()
    email = f"{first}.{last}{rnd.randint(1, 99)}@{rnd.choice(['example.com', 'mail.net', 'corp.org'])}"
    c.label("email", email, [c.say("user", f"you can email me at {email}")])
    m, d, y = rnd.randint(1, 12), rnd.randint(1, 28), rnd.randint(1940, 2005)
    form = rnd.random()
    c.say("assistant", "And your date of birth?")
    if form < 0.5:
        text, value = f"{m:02d}/{d:02d}/{y}", f"{m:02d}{d:02d}{y}"
    else:  # the month's name reads as its two digits, the day as written
        text, value = f"{MONTHS[m - 1]} {d}, {y}", f"{m:02d}{d}{y}"
    c.label("dob", value, [c.say("user", text)])
    addr = f"{rnd.randint(1, 9999)} {rnd.choice(STREETS)}"
    c.label("address", addr, [c.say("user", f"I moved to {addr} last month")])


def make_call(rnd):
    c = Call(rnd)
    c.say("assistant", "Thanks for calling, how can I help you today?")
    c.say("user", f"Hi, this is {rnd.choice(NAMES)}, I'd like to pay my bill.")
    scenarios = [card_call, card_call, ssn_call, bank_call, iban_call]
    for f in rnd.sample(scenarios, rnd.randint(1, 2)):
        if rnd.random() < 0.5:
            near_misses(c, rnd)
        f(c, rnd)
    near_misses(c, rnd)
    if rnd.random() < 0.5:
        opt_in(c, rnd)
    c.say("assistant", "Thank you, that's all done. Anything else?")
    c.say("user", "No, that's it, thanks.")
    return {"turns": c.turns, "labels": c.labels}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--calls", type=int, default=1000)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    for _ in range(args.calls):
        print(json.dumps(make_call(rnd)))


if __name__ == "__main__":
    main()
