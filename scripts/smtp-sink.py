#!/usr/bin/python3
"""scripts/smtp-sink.py - a local SMTP server for tests and "make run".

    smtp-sink.py MAILDIR PORT [DELAY]

Listens on 127.0.0.1:PORT (aiosmtpd, Debian python3-aiosmtpd) and stores
every message it accepts in the Maildir MAILDIR, exactly as received.
With DELAY (seconds), each message's end of DATA is answered that much
later: a slow server, on which a batch outlasts a short lease.
For the tests, recipients steer the answer to RCPT TO:

    ...+tempfail...@   451 (temporary) for the first two attempts, then accepted
    ...+reject...@     550 (permanent), always
    ...+slow...@       accepted after 0.2 s (a batch that takes a while)
    ...+quota...@      accepted; then the connection's next MAIL FROM gets
                       421 and the connection is closed (a server that
                       takes a number of messages a connection)

Runs until SIGTERM or SIGINT.
"""
import asyncio
import mailbox
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, maildir, delay=0.0):
        self.box = mailbox.Maildir(maildir, create=True)
        self.tempfails = {}
        self.delay = delay

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if getattr(session, "quota_reached", False):
            asyncio.get_running_loop().call_soon(server.transport.close)
            return "421 4.7.0 too many messages on this connection (test sink)"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "+reject" in address:
            return "550 5.1.1 mailbox refused by the test sink"
        if "+tempfail" in address:
            n = self.tempfails.get(address, 0)
            self.tempfails[address] = n + 1
            if n < 2:
                return "451 4.3.0 try again later (test sink)"
        if "+slow" in address:
            await asyncio.sleep(0.2)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        if any("+quota" in a for a in envelope.rcpt_tos):
            session.quota_reached = True
        msg = mailbox.MaildirMessage(envelope.original_content)
        # the envelope, for the tests: who it went to
        msg["X-Sink-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.box.add(msg)
        return "250 Message accepted for delivery"


def main():
    maildir, port = sys.argv[1], int(sys.argv[2])
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    controller = Controller(Sink(maildir, delay), hostname="127.0.0.1", port=port)
    controller.start()
    loop = asyncio.new_event_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    print(f"smtp-sink: listening on 127.0.0.1:{port}, Maildir {maildir}", flush=True)
    loop.run_until_complete(stop)
    controller.stop()


if __name__ == "__main__":
    main()
