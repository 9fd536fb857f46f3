"""Outgoing auth mail: SMTP when configured, the server log otherwise."""

from __future__ import annotations

import logging
import smtplib
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from typing import Protocol

from tinybase.settings import Config

__all__ = ["LogMailer", "Mailer", "SmtpMailer", "build_mailer"]

logger = logging.getLogger("tinybase.auth")


class Mailer(Protocol):
    """Sends one plain-text message."""

    def send(self, *, to: str, subject: str, body: str) -> None: ...


class LogMailer:
    """Writes messages to the ``tinybase.auth`` log at INFO (development, no SMTP server)."""

    def send(self, *, to: str, subject: str, body: str) -> None:
        logger.info("mail to %s: %s\n%s", to, subject, body)


class SmtpMailer:
    """Sends through an SMTP server with smtplib, off the request path.

    Sending happens on a single background thread: the request that triggered it answers
    at once, so its timing does not reveal whether a message was sent (an existing account).
    """

    def __init__(self, config: Config) -> None:
        self._config = config
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tinybase-mail")

    def send(self, *, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self._config.smtp_from, to, subject
        message.set_content(body)
        self._executor.submit(self._deliver, message)

    def _deliver(self, message: EmailMessage) -> None:
        config = self._config
        assert config.smtp_host is not None
        try:
            with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=30) as smtp:
                if config.smtp_starttls:
                    smtp.starttls()
                if config.smtp_username:
                    smtp.login(config.smtp_username, config.smtp_password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException):
            logger.exception("could not send mail to %s", message["To"])

    def close(self) -> None:
        """Wait for queued messages, then stop the sending thread."""
        self._executor.shutdown(wait=True)


def build_mailer(config: Config) -> Mailer:
    """SMTP if ``smtp_host`` is set, else the log."""
    return SmtpMailer(config) if config.smtp_host else LogMailer()
