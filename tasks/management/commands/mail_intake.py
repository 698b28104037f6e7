"""`manage.py mail_intake --listen HOST:PORT [--lmtp]`: the cards-by-email listener
(docs/mail.md). Runs until SIGTERM or Ctrl-C. `-v 2` adds aiosmtpd's log of every command."""

import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from tasks import mail_intake
from tasks.mail_server import IntakeController


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--listen wants HOST:PORT, e.g. 127.0.0.1:2525 (not {value!r}).")
    return host, int(port)


class Command(BaseCommand):
    help = "Take mail for the intake address over SMTP or LMTP and turn it into cards."

    def add_arguments(self, parser):
        parser.add_argument("--listen", required=True, metavar="HOST:PORT")
        parser.add_argument("--lmtp", action="store_true", help="Speak LMTP instead of SMTP.")

    def handle(self, *args, listen, lmtp, verbosity, **options):
        host, port = _host_port(listen)
        if verbosity < 2:  # aiosmtpd logs every command at INFO; our decisions log themselves
            logging.getLogger("mail.log").setLevel(logging.WARNING)
        controller = IntakeController(hostname=host, port=port, lmtp=lmtp)
        try:
            controller.start()
        except (OSError, RuntimeError) as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error}") from error
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            if signal.getsignal(signum) is not signal.SIG_IGN:  # started in the background
                signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(
            f"Mail intake ({'LMTP' if lmtp else 'SMTP'}) on {host}:{port}, "
            f"at most {mail_intake.max_bytes()} bytes a message. Ctrl-C stops it."
        )
        try:
            stop.wait()
        finally:
            controller.stop()
