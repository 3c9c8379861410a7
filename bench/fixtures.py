#!/usr/bin/env python3
"""Inputs for the ingest benchmark: a realistic ~8 KB call transcript, and a dev token.

  fixtures.py body   > call.json    # POST /v3/calls body (no customer_id: the token's)
  fixtures.py event  > event.json   # the same call as a complete call.ended event
  fixtures.py token SECRET          # HS256, customer_id 7, memory:read:write, 1 hour
"""
import base64
import hashlib
import hmac
import json
import sys
import time
import uuid

LINES = [
    ("assistant", "Thank you for calling Peterson Insurance, this is Sam. How can I help you today?"),
    ("user", "Hi Sam, this is Kelly Nguyen. I'm calling because my auto insurance bill this month looks wrong, it went up by almost forty dollars."),
    ("assistant", "I'm sorry to hear that, Kelly. I can look into it. Could you confirm your policy number for me?"),
    ("user", "Sure, it's AP-449120. I've been with you for about six years and I've never had a claim."),
    ("assistant", "Thank you. I see the policy. The premium changed at renewal on November first. Let me check the reason."),
    ("user", "Okay. I didn't get any letter about it, and I really need this sorted before the payment goes out on the twenty-fifth."),
    ("assistant", "Understood. It looks like the discount for bundling your home policy was removed when the home policy lapsed in October."),
    ("user", "Lapsed? No, I paid that. I have the confirmation email from October twelfth, the amount was two hundred and twelve dollars."),
    ("assistant", "Thank you, that helps. I see a payment of $212.00 that was applied to an old account number. I can move it to the right policy."),
    ("user", "Please do. And will the discount come back? I'd appreciate it if the bill could be corrected before the autopay."),
    ("assistant", "Yes. Once the payment is moved, the home policy is reinstated with no gap, and the bundle discount returns automatically."),
    ("user", "Great. What will the new amount be? I want to make sure it's back to the one hundred and eighteen I was paying."),
    ("assistant", "The corrected monthly premium is $118.40, the same as before. You'll get an updated statement by email within 24 hours."),
    ("user", "Perfect. Can you also update my email address? It's kelly.nguyen@example.com now, the old one doesn't work."),
    ("assistant", "Done. I've updated the email on both policies. Is there anything else I can help with today?"),
    ("user", "No, that's everything. Thank you so much for fixing it, Sam, I was worried."),
    ("assistant", "You're welcome, Kelly. Have a great day."),
]


def transcript(target=8192):
    turns, i = [], 0
    while len(json.dumps(turns)) < target - 400:
        role, text = LINES[i % len(LINES)]
        turns.append({"role": role, "text": text})
        i += 1
    return turns


def body():
    return {"call_id": "CA" + uuid.uuid4().hex[:30], "user_id": "9495551234",
            "started_at": "2026-11-20T15:04:05Z", "ended_at": "2026-11-20T15:09:41Z",
            "turns": transcript(), "agent": {"name": "Sam"}}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(secret):
    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"customer_id": 7, "scope": "memory:read:write", "iat": now,
                             "exp": now + 3600}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{claims}".encode(), hashlib.sha256).digest()
    return f"{head}.{claims}.{b64(sig)}"


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "body":
        print(json.dumps(body()))
    elif what == "event":
        ev = body()
        ev.update({"type": "call.ended", "version": 1, "event_id": str(uuid.uuid4()),
                   "customer_id": 7, "occurred_at": "2026-11-20T15:09:41Z"})
        print(json.dumps(ev))
    elif what == "token":
        print(token(sys.argv[2]))
    else:
        sys.exit(__doc__)
