"""ChatStack's memory client, as its app/http_memory.py behaves (../shared/PREVIOUS_SERVICE.md):
the routes, headers, bodies, timeouts and parsing ChatStack uses, so a test of ai-memory drives
it the way the phone system does.

- Tokens: a fresh HS256 JWT per request (PyJWT, as ChatStack mints them) with claims
  customer_id (int), scope memory:read:write, iat and exp (1 hour), signed with JWT_SECRET_KEY;
  sent as "Authorization: Bearer" on the memory routes only. GET /health goes without any
  Authorization header.
- Any status other than 200 is a failure: the method returns None (ChatStack logs and goes on
  without memory), and the caller of this class asserts on it.
- Async httpx with the per-request timeouts of PREVIOUS_SERVICE.md's table; the six settings
  reads at call start run in one asyncio.gather.
"""
import asyncio
import json
import re
import time
from datetime import datetime, timezone

import httpx
import jwt

# ChatStack's name extraction from the enriched context (case-insensitive: \s+ crosses lines)
NAME_RE = re.compile(r"(?:Name|caller[_\s]name|identity[_\s]name):\s*([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)",
                     re.IGNORECASE)
# The admin settings ChatStack reads at every call start
SETTINGS = ("greeting", "agent_name", "business_hours", "voice", "transfer_number", "company_name")


class ChatStackMemory:
    def __init__(self, base_url, secret, customer_id):
        self.base = base_url.rstrip("/")
        self.secret = secret
        self.customer_id = customer_id
        self.log = []  # (method, path, status) of every request, for the test's own checks

    def _token(self):
        now = int(time.time())
        return jwt.encode({"customer_id": self.customer_id, "scope": "memory:read:write",
                           "iat": now, "exp": now + 3600}, self.secret, algorithm="HS256")

    def _headers(self):
        return {"Authorization": f"Bearer {self._token()}", "Content-Type": "application/json"}

    async def _call(self, method, path, timeout, body=None, auth=True):
        """One request; the parsed JSON of a 200, else None (ChatStack's failure path)."""
        async with httpx.AsyncClient(timeout=timeout) as client:
            try:
                r = await client.request(method, self.base + path,
                                         headers=self._headers() if auth else None,
                                         json=body)
            except httpx.HTTPError as e:
                self.log.append((method, path, repr(e)))
                return None
        self.log.append((method, path, r.status_code))
        if r.status_code != 200:
            return None
        return r.json()

    # ---- incoming call webhook --------------------------------------------------------

    async def available(self):
        """GET /health, no token: memory is used only if this says healthy."""
        h = await self._call("GET", "/health", 10, auth=False)
        return bool(h) and h.get("status") in ("ok", "healthy") and (
            h.get("db") is True or h.get("memory_store") == "connected")

    async def is_returning(self, phone10):
        """The returning-caller probe: the tenant-prefixed id, then the bare 10 digits."""
        for uid in (f"customer_{self.customer_id}_{phone10}", phone10):
            r = await self._call("GET", f"/v1/memories?user_id={uid}&limit=3", 10)
            if r is None:
                return None
            if r.get("count", 0) > 0 or r.get("memories"):
                return True
        return False

    # ---- call start -------------------------------------------------------------------

    async def _setting(self, name):
        r = await self._call("GET", "/v1/memories?user_id=admin&memory_type=admin_setting&limit=50", 2)
        if r is None:
            return None
        for m in r.get("memories", []):
            if m.get("key") == name and m.get("type") == "admin_setting":
                v = m.get("value")
                if isinstance(v, dict):
                    return v.get("setting_value", v.get("value"))
                return v
        return None

    async def settings(self):
        """The six admin settings, read in parallel (one gather), name → value or None."""
        values = await asyncio.gather(*(self._setting(n) for n in SETTINGS))
        return dict(zip(SETTINGS, values))

    async def enriched_context(self, user_id):
        """(context text, caller name or None), or None on failure."""
        r = await self._call("POST", "/v2/context/enriched", 3, {"user_id": user_id})
        if r is None or not r.get("success"):
            return None
        context = r.get("context") or ""
        m = NAME_RE.search(context)
        return context, (m.group(1).strip() if m else None), r

    async def restore_thread(self, user_id, thread_id):
        """Thread history: the caller's memories, looking for key thread_history:<thread_id>;
        the saved messages, or [] when none."""
        r = await self._call("GET", f"/v1/memories?user_id={user_id}&limit=50", 10)
        if r is None:
            return None
        for m in r.get("memories", []):
            if m.get("key") == f"thread_history:{thread_id}":
                v = m.get("value")
                if isinstance(v, str):
                    v = json.loads(v)
                return v.get("messages", [])
        return []

    # ---- every agent turn -------------------------------------------------------------

    async def save_turn(self, user_id, thread_id, messages, items=()):
        """GET /health, the whole conversation so far as the thread recap, then the small
        person/fact/preference items the agent noted (the carry kit). True when all saved."""
        if not await self.available():
            return False
        recap = {"type": "thread_recap", "key": f"thread_history:{thread_id}",
                 "value": {"count": len(messages), "messages": messages},
                 "ttl_days": 365, "source": "chatstack"}
        ok = await self._call("POST", f"/v1/memories/user?user_id={user_id}", 10, recap)
        if not (ok and ok.get("success") and ok.get("memory_id")):
            return False
        for mtype, key, value in items:
            body = {"type": mtype, "key": key, "value": value, "ttl_days": 365, "source": "chatstack"}
            r = await self._call("POST", f"/v1/memories/user?user_id={user_id}", 10, body)
            if not (r and r.get("success") and r.get("id")):
                return False
        return True

    # ---- call end ---------------------------------------------------------------------

    async def end_call(self, user_id, thread_id):
        """The transcript rebuilt from the thread recap (POST /memory/retrieve, legacy memory
        string), then POST /v2/process-call; ChatStack logs summary[:50]. Returns (transcript,
        process-call answer, summary[:50]) or None."""
        r = await self._call("POST", "/memory/retrieve", 3,
                             {"user_id": user_id, "message": f"thread_history:{thread_id}",
                              "limit": 500, "types": ["thread_recap"]})
        if r is None:
            return None
        transcript = []
        for line in (r.get("memory") or "").splitlines():
            line = line.strip()
            if not line:
                continue
            item = json.loads(line)
            for msg in item.get("messages", []) if isinstance(item, dict) else []:
                transcript.append([msg["role"], msg["content"]])
            if transcript:
                break  # newest first: the latest recap holds the whole conversation
        done = await self._call("POST", "/v2/process-call", 15,
                                {"user_id": user_id, "thread_id": thread_id,
                                 "conversation_history": transcript})
        if done is None or not done.get("success"):
            return None
        return transcript, done, done["summary"][:50]

    # ---- admin panel ------------------------------------------------------------------

    async def save_setting(self, key, value):
        now = datetime.now(timezone.utc).isoformat()
        r = await self._call("POST", "/v1/memories/shared", 10,
                             {"type": "admin_setting", "key": key,
                              "value": {"setting_key": key, "value": value, "setting_value": value,
                                        "timestamp": now, "updated_at": now}})
        return bool(r and r.get("success"))

    async def profiles(self):
        r = await self._call("GET", "/v2/profiles?limit=100", 10)
        return r["profiles"] if r and r.get("success") else None
