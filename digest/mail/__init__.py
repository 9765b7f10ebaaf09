"""Mail: an edition turned into an email and sent (the only mjml and smtplib importers).

`render` fills the templates (`display` and `latex` make untrusted text readable),
`envelope` holds what the config says about sender, footer and unsubscribe links,
`message` builds the MIME message, and `transport` hands messages to an SMTP server or
an outbox folder.
"""
