"""Reading incoming mail: quotes and signatures stripped in three languages, robots recognised."""

from __future__ import annotations

from email.message import EmailMessage

from server.mail.parsing import authenticated, automatic_reason, body_of, strip_reply


def test_quotes_and_signatures_are_stripped() -> None:
    assert strip_reply("Yes!\n\nOn Tue, 6 Jan 2026, Bob <b@x> wrote:\n> Shall we?\n") == "Yes!"
    assert strip_reply("Oui.\n\nLe mar. 6 janv. 2026 à 10:00, Bob a écrit :\n> On y va ?") == "Oui."
    assert strip_reply("Ja.\n\nAm 06.01.2026 um 10:00 schrieb Bob <b@x>:\n> Los?") == "Ja."
    assert strip_reply("Fine\n-- \nBob\nSales") == "Fine"
    assert strip_reply("Fine\n\nSent from my iPhone") == "Fine"
    assert strip_reply("Top\n\n## Reply above this line to answer on Cercle ##\nold") == "Top"
    assert strip_reply("Top\n> ## Répondez au-dessus de cette ligne pour répondre sur Cercle ##") == "Top"
    assert strip_reply("Ok\n________________\nFrom: Bob\nSent: Monday") == "Ok"
    assert strip_reply("Ok\n\nFrom: Bob <b@x>\nSent: Monday\nSubject: x") == "Ok"
    assert strip_reply("a\n> quoted\nb") == "a\nb"


def test_an_html_only_mail_is_read_as_text() -> None:
    message = EmailMessage()
    message.set_content(
        "<p>Hello <b>there</b></p><p>Second &amp; last</p><script>x()</script>", subtype="html"
    )
    assert body_of(message) == "Hello there\nSecond & last"


def _with(**headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "ada@corp.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("x")
    return message


def test_robots_are_recognised() -> None:
    assert automatic_reason(_with(), "ada@corp.example") is None
    assert automatic_reason(_with(Auto_Submitted="no"), "ada@corp.example") is None
    assert automatic_reason(_with(), "") is not None
    assert automatic_reason(_with(Auto_Submitted="auto-replied"), "ada@corp.example") is not None
    assert automatic_reason(_with(Precedence="junk"), "ada@corp.example") is not None
    assert automatic_reason(_with(From="MAILER-DAEMON@corp.example"), "x@corp.example") is not None


def test_authentication_results_from_the_trusted_server_only() -> None:
    assert authenticated(_with(), None)
    assert not authenticated(_with(), "mx.corp.example")
    forged = _with(Authentication_Results="mx.evil.example; dmarc=pass")
    assert not authenticated(forged, "mx.corp.example")
    assert authenticated(
        _with(Authentication_Results="mx.corp.example; spf=pass; dkim=pass"), "mx.corp.example"
    )
    assert not authenticated(_with(Authentication_Results="mx.corp.example; dmarc=fail"), "mx.corp.example")
