"""Email: notifications and digests out, posts and replies in, mailing-list archives imported.

- `messages` builds the mails (multipart, localised, threaded, with one-click unsubscribe);
  `texts` holds their words in English, French and German.
- `outbox` is the durable queue and its sender; `fanout` turns notifications and new posts into
  queued mails; `digests` queues daily and weekly digests; `worker` runs both in a loop.
- `preferences` keeps what each person wants; `routes` is the one-click unsubscribe endpoint.
- `inbound` is the SMTP/LMTP server (aiosmtpd); `parsing` reads incoming mail; `tokens` signs reply
  addresses; `addresses` names ours.
- `mbox` imports mailing-list archives.

Nothing here runs in a web request: requests write rows, the worker sends.
"""
