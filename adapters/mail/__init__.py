"""E-mail of documents: SMTP configuration, jinja2 templates, sending and retries (docs/email.md)."""
