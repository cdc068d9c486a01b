"""Consent and suppression as the dispatcher sees them at send time (Redis).

The job checks consent from its own state; the dispatcher checks again right before sending, so
an opt-out that races a send still stops it. Whoever learns of a change (the API's consent and
erase endpoints, a bounce) writes it here with `set_consent`, `suppress_user` or
`suppress_address`.

A user's choice for `channel:category` wins over `channel:*`, then `*:category`, then `*:*`.
Without any choice, the `guardrails.consent` rules (the ones the job applies) decide whether
opt-in is required (default: opt-out, i.e. send). The suppression list (users and addresses)
stops everything, transactional messages included; consent applies to transactional messages
too, for their own category.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import redis
from pydantic import BaseModel, ConfigDict

from connectors.dispatch import keys
from operators.core.guardrails import ConsentRule

# KEYS: suppressed users, suppressed addresses, then each check's consent hash.
# ARGV: n, then per check: user_id, channel, category, address digest ("" if none).
# Returns one character per check: S suppressed, O opted out, I opted in, - no choice.
CHECK = """
local out = {}
local n = tonumber(ARGV[1])
for k = 1, n do
  local a = 2 + (k - 1) * 4
  local user, ch, cat, addr = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local code = '-'
  if redis.call('SISMEMBER', KEYS[1], user) == 1
     or (addr ~= '' and redis.call('SISMEMBER', KEYS[2], addr) == 1) then
    code = 'S'
  else
    local v = redis.call('HMGET', KEYS[2 + k], ch .. ':' .. cat, ch .. ':*', '*:' .. cat, '*:*')
    for j = 1, 4 do
      if v[j] then
        if v[j] == 'opted_out' then code = 'O' else code = 'I' end
        break
      end
    end
  end
  out[k] = code
end
return table.concat(out)
"""


class ConsentStatus(StrEnum):
    """A user's choice for a channel and category."""

    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"


class Verdict(BaseModel):
    """Whether an action may be sent; `reason` is a suppression reason when not."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    reason: str | None = None


ALLOWED = Verdict(allowed=True)


class SendCheck(BaseModel):
    """What to check for one action."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    channel: str
    category: str
    address: str | None = None
    #: False for channels that do not contact the user (webhooks, flags, CRM): only the user
    #: suppression list applies.
    consent_applies: bool = True


def requires_opt_in(rules: Sequence[ConsentRule], channel: str, category: str) -> bool:
    """Whether `channel`/`category` needs an explicit opt-in under `rules` (most specific wins)."""
    best: tuple[int, bool] | None = None
    for rule in rules:
        if rule.channel not in ("*", channel) or rule.category not in ("*", category):
            continue
        specificity = (rule.channel != "*") * 2 + (rule.category != "*")
        if best is None or specificity >= best[0]:
            best = (specificity, rule.require_opt_in)
    return best[1] if best is not None else False


class ConsentStore:
    """Reads and writes consent and suppression in Redis."""

    def __init__(self, client: redis.Redis, rules: Sequence[ConsentRule] = ()) -> None:
        self.client = client
        self.rules = list(rules)
        self._check = client.register_script(CHECK)

    # Writing --------------------------------------------------------------------------------

    def set_consent(self, user_id: str, channel: str, category: str, status: ConsentStatus) -> None:
        """Record a user's choice (`*` for every channel or category)."""
        self.client.hset(keys.consent(user_id), f"{channel}:{category}", status.value)

    def suppress_user(self, user_id: str) -> None:
        """Never contact this user again (global suppression list, erasure)."""
        self.client.sadd(keys.SUPPRESSED_USERS, user_id)

    def suppress_address(self, address: str) -> None:
        """Never send to this address again (hard bounce, spam complaint)."""
        self.client.sadd(keys.SUPPRESSED_ADDRESSES, keys.address_digest(address))

    def forget_user(self, user_id: str) -> None:
        """Drop what is stored about a user's consent (erasure keeps the suppression entry)."""
        self.client.delete(keys.consent(user_id))

    # Checking -------------------------------------------------------------------------------

    def check_many(self, checks: Sequence[SendCheck]) -> list[Verdict]:
        """A verdict for each check, in one round trip (one script, one short reply)."""
        if not checks:
            return []
        args: list[object] = [len(checks)]
        for c in checks:
            args += [c.user_id, c.channel, c.category, keys.address_digest(c.address) if c.address else ""]
        codes = self._check(keys=[keys.SUPPRESSED_USERS, keys.SUPPRESSED_ADDRESSES,
                                  *(keys.consent(c.user_id) for c in checks)], args=args)
        return [self._verdict(c, code) for c, code in zip(checks, codes, strict=True)]

    def check(self, check: SendCheck) -> Verdict:
        """The verdict for one action."""
        return self.check_many([check])[0]

    def _verdict(self, check: SendCheck, code: str) -> Verdict:
        if code == "S":
            return Verdict(allowed=False, reason="suppression_list")
        if not check.consent_applies:
            return ALLOWED
        if code == "O":
            return Verdict(allowed=False, reason="consent")
        if code == "-" and requires_opt_in(self.rules, check.channel, check.category):
            return Verdict(allowed=False, reason="consent")
        return ALLOWED
