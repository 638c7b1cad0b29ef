"""The words of Cercle's mail, in English, French and German. `{name}` fields are filled with `format`."""

from __future__ import annotations

LANGUAGES = ("en", "fr", "de")

TEXTS: dict[str, dict[str, str]] = {
    "reply_marker": {
        "en": "## Reply above this line to answer on Cercle ##",
        "fr": "## Répondez au-dessus de cette ligne pour répondre sur Cercle ##",
        "de": "## Antworten Sie oberhalb dieser Zeile, um auf Cercle zu antworten ##",
    },
    "item": {
        "en": "{author} posted in {community}",
        "fr": "{author} a publié dans {community}",
        "de": "{author} hat in {community} veröffentlicht",
    },
    "item_comment": {
        "en": "{author} commented in {community}",
        "fr": "{author} a commenté dans {community}",
        "de": "{author} hat in {community} kommentiert",
    },
    "mention": {
        "en": "{author} mentioned you",
        "fr": "{author} vous a mentionné",
        "de": "{author} hat Sie erwähnt",
    },
    "reply": {
        "en": "{author} replied to you",
        "fr": "{author} vous a répondu",
        "de": "{author} hat Ihnen geantwortet",
    },
    "untitled": {
        "en": "A post by {author}",
        "fr": "Une publication de {author}",
        "de": "Ein Beitrag von {author}",
    },
    "private_body": {
        "en": "This community is not public: its content is not sent by mail. Read it on Cercle.",
        "fr": "Cette communauté n'est pas publique : son contenu n'est pas envoyé par e-mail. "
        "Lisez-le sur Cercle.",
        "de": "Diese Community ist nicht öffentlich: Ihre Inhalte werden nicht per E-Mail versandt. "
        "Lesen Sie sie auf Cercle.",
    },
    "open": {"en": "Open on Cercle", "fr": "Ouvrir sur Cercle", "de": "Auf Cercle öffnen"},
    "how_to_reply": {
        "en": "Answer this mail to comment; your answer is published under your name.",
        "fr": "Répondez à cet e-mail pour commenter ; votre réponse est publiée sous votre nom.",
        "de": "Antworten Sie auf diese E-Mail, um zu kommentieren; Ihre Antwort wird unter Ihrem Namen "
        "veröffentlicht.",
    },
    "why_community": {
        "en": "You receive each new post of {community}.",
        "fr": "Vous recevez chaque nouvelle publication de {community}.",
        "de": "Sie erhalten jeden neuen Beitrag aus {community}.",
    },
    "why_mention": {
        "en": "You receive a mail when someone mentions you.",
        "fr": "Vous recevez un e-mail quand quelqu'un vous mentionne.",
        "de": "Sie erhalten eine E-Mail, wenn jemand Sie erwähnt.",
    },
    "why_reply": {
        "en": "You receive a mail when someone replies to you.",
        "fr": "Vous recevez un e-mail quand quelqu'un vous répond.",
        "de": "Sie erhalten eine E-Mail, wenn jemand Ihnen antwortet.",
    },
    "why_daily": {
        "en": "You receive a daily digest.",
        "fr": "Vous recevez un résumé quotidien.",
        "de": "Sie erhalten eine tägliche Zusammenfassung.",
    },
    "why_weekly": {
        "en": "You receive a weekly digest.",
        "fr": "Vous recevez un résumé hebdomadaire.",
        "de": "Sie erhalten eine wöchentliche Zusammenfassung.",
    },
    "unsubscribe": {"en": "Unsubscribe", "fr": "Se désabonner", "de": "Abbestellen"},
    "digest_daily_subject": {
        "en": "Your daily digest from {instance}",
        "fr": "Votre résumé quotidien de {instance}",
        "de": "Ihre tägliche Zusammenfassung von {instance}",
    },
    "digest_weekly_subject": {
        "en": "Your weekly digest from {instance}",
        "fr": "Votre résumé hebdomadaire de {instance}",
        "de": "Ihre wöchentliche Zusammenfassung von {instance}",
    },
    "digest_intro": {
        "en": "What happened in your communities since {since}:",
        "fr": "Ce qui s'est passé dans vos communautés depuis le {since} :",
        "de": "Was seit {since} in Ihren Communitys passiert ist:",
    },
    "digest_entry": {"en": "by {author}", "fr": "par {author}", "de": "von {author}"},
    "comments": {
        "en": "{count} new comment(s)",
        "fr": "{count} nouveau(x) commentaire(s)",
        "de": "{count} neue(r) Kommentar(e)",
    },
    "refused_subject": {
        "en": "Not published: {subject}",
        "fr": "Non publié : {subject}",
        "de": "Nicht veröffentlicht: {subject}",
    },
    "refused_intro": {
        "en": "Your mail to {address} was not published, and nothing was stored.",
        "fr": "Votre e-mail à {address} n'a pas été publié, et rien n'a été enregistré.",
        "de": "Ihre E-Mail an {address} wurde nicht veröffentlicht, und nichts wurde gespeichert.",
    },
    "refused_reason": {"en": "Reason: {reason}", "fr": "Motif : {reason}", "de": "Grund: {reason}"},
    "reason_expired": {
        "en": "this reply address has expired; answer from Cercle, or from a more recent mail.",
        "fr": "cette adresse de réponse a expiré ; répondez depuis Cercle ou depuis un e-mail plus récent.",
        "de": "diese Antwortadresse ist abgelaufen; antworten Sie auf Cercle oder aus einer neueren E-Mail.",
    },
    "reason_forged": {
        "en": "this reply address is not valid; it may have been altered.",
        "fr": "cette adresse de réponse n'est pas valide ; elle a peut-être été modifiée.",
        "de": "diese Antwortadresse ist ungültig; sie wurde möglicherweise verändert.",
    },
    "reason_not_yours": {
        "en": "this reply address belongs to someone else: only the person the mail was sent to can "
        "answer with it (a forwarded mail cannot be answered).",
        "fr": "cette adresse de réponse appartient à quelqu'un d'autre : seule la personne à qui l'e-mail "
        "a été envoyé peut l'utiliser (on ne peut pas répondre à un e-mail transféré).",
        "de": "diese Antwortadresse gehört jemand anderem: Nur die Person, an die die E-Mail ging, kann "
        "damit antworten (auf eine weitergeleitete E-Mail kann nicht geantwortet werden).",
    },
    "reason_unknown_sender": {
        "en": "no account on {instance} uses the address you wrote from.",
        "fr": "aucun compte sur {instance} n'utilise l'adresse depuis laquelle vous avez écrit.",
        "de": "kein Konto auf {instance} verwendet die Adresse, von der Sie geschrieben haben.",
    },
    "reason_unauthenticated": {
        "en": "your mail server did not confirm that this mail comes from you (DKIM/DMARC).",
        "fr": "votre serveur de messagerie n'a pas confirmé que cet e-mail vient de vous (DKIM/DMARC).",
        "de": "Ihr Mailserver hat nicht bestätigt, dass diese E-Mail von Ihnen stammt (DKIM/DMARC).",
    },
    "reason_empty": {
        "en": "the mail has no text once quotes and signature are removed.",
        "fr": "l'e-mail ne contient aucun texte une fois les citations et la signature retirées.",
        "de": "die E-Mail enthält keinen Text, wenn Zitate und Signatur entfernt sind.",
    },
    "unsubscribed": {
        "en": "You will no longer receive these mails.",
        "fr": "Vous ne recevrez plus ces e-mails.",
        "de": "Sie erhalten diese E-Mails nicht mehr.",
    },
    "unsubscribe_confirm": {
        "en": "Stop receiving these mails?",
        "fr": "Ne plus recevoir ces e-mails ?",
        "de": "Diese E-Mails nicht mehr erhalten?",
    },
    "unsubscribe_invalid": {
        "en": "This unsubscribe link is not valid.",
        "fr": "Ce lien de désabonnement n'est pas valide.",
        "de": "Dieser Abbestell-Link ist ungültig.",
    },
}


def language_of(preferred: str | None, default: str) -> str:
    lang = (preferred or "").split("-")[0].lower()
    return lang if lang in LANGUAGES else default


def text(key: str, lang: str, **fields: object) -> str:
    entry = TEXTS[key]
    return (entry.get(lang) or entry["en"]).format(**fields)
