"""E-mail of documents: SMTP settings, jinja2 templates, sending, retries (docs/email.md)."""
