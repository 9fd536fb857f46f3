"""Reset mail goes out by SMTP when configured, off the request path."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from tinybase.auth.mail import LogMailer, SmtpMailer, build_mailer
from tinybase.settings import load_config


class FakeSMTP:
    sent: list[EmailMessage] = []
    calls: list[str] = []

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.calls.append(f"connect {host}:{port}")

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.calls.append("quit")

    def starttls(self) -> None:
        self.calls.append("starttls")

    def login(self, user: str, password: str) -> None:
        self.calls.append(f"login {user}")

    def send_message(self, message: EmailMessage) -> None:
        self.sent.append(message)


def test_smtp_mailer_sends_with_starttls_and_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    config = load_config(
        smtp_host="mail.example",
        smtp_port=2525,
        smtp_username="bot",
        smtp_password="pw",
        smtp_from="noreply@example.com",
    )
    mailer = build_mailer(config)
    assert isinstance(mailer, SmtpMailer)
    mailer.send(to="user@example.com", subject="Reset your password", body="link")
    mailer.close()
    (message,) = FakeSMTP.sent
    assert message["To"] == "user@example.com" and message["From"] == "noreply@example.com"
    assert message.get_content().strip() == "link"
    assert FakeSMTP.calls == ["connect mail.example:2525", "starttls", "login bot", "quit"]


def test_without_smtp_host_mail_goes_to_the_log() -> None:
    assert isinstance(build_mailer(load_config()), LogMailer)
