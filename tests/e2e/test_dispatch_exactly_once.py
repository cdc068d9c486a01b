"""Exactly once, shown: 10,000 email actions delivered twice, a worker killed (SIGKILL) mid-batch, and the
SMTP server holds each message exactly once."""

from __future__ import annotations

import email
import os
import signal
import time
from collections import Counter
from email import policy
from pathlib import Path

import pytest
from dispatch_kit import DispatchEnv
from provider_servers import wait_for

from jobs.spec.records import DeliveryStatus

pytestmark = pytest.mark.e2e

ACTIONS = 10_000


class MailWatch:
    """Counts this test's messages in the maildir, reading each new file once."""

    def __init__(self, env: DispatchEnv) -> None:
        self.env = env
        self.seen: set[str] = set()
        self.ours: dict[str, bytes] = {}

    def scan(self) -> int:
        marker = self.env.domain.encode()
        for path in self.env.mail_dir.iterdir():
            if path.name in self.seen or not path.name.endswith(".eml"):
                continue
            self.seen.add(path.name)
            try:
                if int(path.name.split("-", 1)[0]) < self.env.started_ns:
                    continue
                data = path.read_bytes()
            except (ValueError, OSError):
                continue
            if marker in data[:300]:
                self.ours[path.name] = data
        return len(self.ours)


def test_ten_thousand_emails_twice_with_a_worker_killed_are_each_delivered_once(
    dispatch_env: DispatchEnv, tmp_path: Path
) -> None:
    env = dispatch_env
    env.create_topics(["email"], partitions=4)
    actions = [env.action("email", i, template="cart_reminder") for i in range(ACTIONS)]
    env.produce(actions)
    env.produce(actions)  # the same 10,000 again, as a replay would

    group = f"g{env.run}"
    log_a, log_b = tmp_path / "worker-a.log", tmp_path / "worker-b.log"
    worker_a = env.worker_process(["email"], log_a, group=group)
    worker_b = env.worker_process(["email"], log_b, group=group)
    watch = MailWatch(env)
    try:
        # Kill A in the middle of its work: it has batches in flight on every sender thread.
        wait_for(lambda: watch.scan() >= ACTIONS // 4, 60, 0.2, "a quarter of the mail")
        os.kill(worker_a.pid, signal.SIGKILL)
        worker_a.wait(10)
        killed_at = watch.scan()

        # B takes A's partitions over once the group notices, and finishes everything. The bound is
        # generous: this test is about each message arriving once, not about how fast.
        wait_for(lambda: watch.scan() >= ACTIONS and env.group_lag("email", group) == 0, 240, 0.5,
                 "every action delivered and committed",
                 detail=lambda: (f"{watch.scan()} messages, lag {env.group_lag('email', group)}, "
                                 f"A killed after {killed_at}; worker B's log ends:\n"
                                 + log_b.read_text(errors="replace")[-4000:]))
        time.sleep(1.0)
        assert watch.scan() == ACTIONS
    finally:
        if worker_a.poll() is None:
            worker_a.kill()
        worker_b.send_signal(signal.SIGTERM)
        code_b = worker_b.wait(30)
    assert code_b == 0, log_b.read_text()[-3000:]
    assert 0 < killed_at < ACTIONS

    # Exactly once at the SMTP server: one file per action, no loss, no duplicate.
    recipients = Counter()
    message_ids = Counter()
    for data in watch.ours.values():
        msg = email.message_from_bytes(data, policy=policy.default)
        recipients[str(msg["To"])] += 1
        message_ids[str(msg["Message-ID"])] += 1
    expected = {a.to["email"] for a in actions}
    assert set(recipients) == expected
    assert max(recipients.values()) == 1
    assert len(message_ids) == ACTIONS

    # Every action has a final delivery record; the crash left at most a few unconfirmed ones.
    final = [d for d in env.deliveries() if d.status in (DeliveryStatus.DELIVERED, DeliveryStatus.SENT)]
    assert {d.action_id for d in final} == {a.action_id for a in actions}
    unconfirmed = {d.action_id for d in final if d.status is DeliveryStatus.SENT}
    duplicates = [d for d in env.deliveries() if d.status is DeliveryStatus.DUPLICATE]
    assert len(unconfirmed) <= 8  # at most two sends per sender thread of A (in progress, just finished)
    assert len(duplicates) >= ACTIONS - 64
    print(
        f"\nexactly-once: {ACTIONS} actions x2, worker A killed after {killed_at} messages; "
        f"SMTP holds {len(watch.ours)} messages for {len(recipients)} recipients (max per recipient "
        f"{max(recipients.values())}); {len(unconfirmed)} sends resolved as unconfirmed after the kill; "
        f"{len(duplicates)} duplicate records"
    )
