"""Dispatchers: small Kafka consumer workers that turn action records into deliveries, exactly once.

    journeys dispatch --channel email --channel webhook     # or --channel all; run as many as you like
    journeys dlq list --channel email                       # what could not be delivered, and why
    journeys dlq replay --channel email [--action-id ID]    # send it again after fixing the cause
    journeys template preview ID --user-file ada.yaml       # a template rendered for a sample user

Modules:

- `runner` (the process: one worker thread per channel, SIGTERM handling), `worker` (one channel's
  consumer-group loop and batch bookkeeping), `processor` (what happens to one action);
- `dedupe` (the exactly-once protocol in Redis), `ratelimit` (the shared token bucket), `retry`
  (backoff with jitter), `circuit` (a breaker per provider), `consent` (consent and suppression at
  send time);
- `render` (sandboxed Jinja2), `templates` (the templates folder, reloaded on change),
  `unsubscribe` (signed one-click unsubscribe tokens), `masking` (PII masking, secret redaction);
- `publisher` (deliveries, feedback events, dead letters to Kafka), `feedback` (delivery ->
  `message.*` event), `deadletter` (the dead-letter record), `replay` (`dlq list|replay`);
- `plugin` (the versioned channel plugin interface, entry-point group `journeys.channels`) and
  `channels/` (email, sms, push, slack, webhook, crm, in_app, flag); `keys` (Redis key names shared
  with the API).

Guarantees: a message goes out at most once per `action_id` whatever is replayed, retried or
killed; it goes out at least once unless a worker dies in the few microseconds between writing
its commit mark and the final write of the send (then the send is taken as done and recorded as
`sent` / `unconfirmed`). Delivery records and feedback events are at least once, with
deterministic ids. Offsets are committed only after a batch's records are in Kafka.
"""
