"""Subject and body of each e-mail, from jinja2 templates.

The built-in templates live beside this module; ``TOLLBOOK_MAIL_TEMPLATES`` names a directory
whose files of the same names replace them. Templates are configuration written by an operator,
still rendered in jinja2's sandbox with undefined names an error, so a typo fails loudly
instead of sending an e-mail with a blank where the amount should be.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from adapters.config_error import ConfigError

BUILT_IN = Path(__file__).parent / "templates"
#: a subject longer than this is cut (RFC 5322 recommends 78 characters a header line)
MAX_SUBJECT = 200


def environment(env: Mapping[str, str]) -> SandboxedEnvironment:
    directories = [BUILT_IN]
    custom = env.get("TOLLBOOK_MAIL_TEMPLATES", "").strip()
    if custom:
        if not Path(custom).is_dir():
            raise ConfigError(f"TOLLBOOK_MAIL_TEMPLATES={custom!r} is not a directory")
        directories.insert(0, Path(custom))
    loader = ChoiceLoader([FileSystemLoader(str(d)) for d in directories])
    return SandboxedEnvironment(loader=loader, undefined=StrictUndefined, autoescape=False)


def render(jinja: SandboxedEnvironment, kind: str, values: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of one document kind; the subject on one line (no header injection)."""
    try:
        subject = jinja.get_template(f"{kind}_subject.txt").render(values)
        body = jinja.get_template(f"{kind}_body.txt").render(values)
    except TemplateError as error:
        raise ConfigError(f"e-mail template {kind}: {error}") from None
    return " ".join(subject.split())[:MAX_SUBJECT], body
