"""Global guardrails: the per-process rules every journey runs under.

`Guardrails` is one pydantic model, meant to be embedded in the process settings (the core never
reads files or environment variables itself). Journeys add their own caps and quiet hours on top.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from jobs.spec.durations import Duration, TimeZoneName
from jobs.spec.journey import Cap, QuietHours


class ConsentRule(BaseModel):
    """Whether a channel/category needs an explicit opt-in. `*` matches every channel or category.

    Without a matching rule, consent is opt-out: send unless the user opted out.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str = "*"
    category: str = "*"
    require_opt_in: bool = True


class Guardrails(BaseModel):
    """Rules that hold for every journey and every user of one job.

    Fields:
      caps: global frequency caps, counting the user's sends from every journey (rolling windows;
        `channel: any` counts every channel). Transactional sends neither count nor are capped.
      default_tz: timezone for users and journeys without one.
      quiet_hours: default quiet hours for journeys that set none (None: no default).
      consent: per channel/category rules requiring opt-in (most specific rule wins).
      fallback_window: default for how long a failed/bounced delivery can still trigger a fallback
        (a message node's own `fallback_window` wins when it sets one).
      action_ttl: `not_after` of each action, relative to its `ts`: dispatchers drop older ones.
      event_id_memory / event_id_horizon: how many recent event ids (and for how long) each user
        remembers to make repeats no-ops.
      idle_ttl: users with nothing in flight and no event for this long are compacted to consent,
        suppression and once-only entry logs (None: never).
      erased_ttl: how long an erase tombstone outlives `user.deleted` (None: forever).
      paused_recheck: how often an instance of a paused journey whose deadline passed re-checks
        whether its journey resumed.
      max_steps: nodes one instance may run in one step before it is stopped with an error.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    caps: list[Cap] = Field(default_factory=list)
    default_tz: TimeZoneName = "UTC"
    quiet_hours: QuietHours | None = None
    consent: list[ConsentRule] = Field(default_factory=list)
    fallback_window: Duration = timedelta(days=1)
    action_ttl: Duration | None = timedelta(days=1)
    event_id_memory: PositiveInt = 32
    event_id_horizon: Duration = timedelta(days=1)
    idle_ttl: Duration | None = timedelta(days=365)
    erased_ttl: Duration | None = None
    paused_recheck: Duration = timedelta(minutes=15)
    max_steps: PositiveInt = 256

    def requires_opt_in(self, channel: str, category: str) -> bool:
        """Whether sending on `channel` for `category` needs the user's explicit opt-in."""
        best: tuple[int, bool] | None = None
        for rule in self.consent:
            if rule.channel not in ("*", channel) or rule.category not in ("*", category):
                continue
            specificity = (rule.channel != "*") * 2 + (rule.category != "*")
            if best is None or specificity >= best[0]:
                best = (specificity, rule.require_opt_in)
        return best[1] if best is not None else False
