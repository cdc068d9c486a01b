"""The local SMTP server process: every message received becomes one `.eml` file.

Run as `python -m jobs.services.smtp_server --host H --port P --mail-dir DIR`. Files are named
`<received-ns>-<n>.eml` and written atomically (temp file, then rename), so a reader never
sees half a message.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


class MaildirHandler:
    """aiosmtpd handler writing each message to its own file."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir
        self._seq = itertools.count()

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        name = f"{time.time_ns()}-{next(self._seq)}.eml"
        tmp = self.mail_dir / f".{name}.tmp"
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        header = (
            f"X-Journeys-Mail-From: {envelope.mail_from}\r\n"
            f"X-Journeys-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        tmp.write_bytes(header + content)
        os.replace(tmp, self.mail_dir / name)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--mail-dir", type=Path, required=True)
    args = parser.parse_args()
    args.mail_dir.mkdir(parents=True, exist_ok=True)
    controller = Controller(
        MaildirHandler(args.mail_dir),
        hostname=args.host,
        port=args.port,
        data_size_limit=10 * 1024 * 1024,
    )
    controller.start()
    print(f"smtp server listening on {args.host}:{args.port}, mail in {args.mail_dir}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        loop.run_until_complete(stop.wait())
    finally:
        controller.stop()
        print("smtp server stopped", flush=True)


if __name__ == "__main__":
    main()
