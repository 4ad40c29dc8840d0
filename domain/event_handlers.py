"""The one way tollbook dispatches events: methods marked ``@on(EventType)``, found by type.

Read models (projections/view.py), the in-memory balance fold, the history's plain words and
the accounting exports all subclass ``HandlesEvents`` and mark one method per event type
they care about; ``handler_for`` finds it with one dictionary lookup on the event's type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from domain.aggregate import Event

H = TypeVar("H", bound=Callable[..., Any])


def on(kind: type[Event], *fields: str) -> Callable[[H], H]:
    """Mark a method as the handler of ``kind`` events (stack marks for several kinds).

    ``fields`` names what a tracked read model's handler reads: the runner decodes only those
    (plus ``originator_id`` and ``originator_version``) when it rebuilds.
    """

    def mark(handler: H) -> H:
        handler.__dict__.setdefault("_handles", []).append((kind, fields))
        return handler

    return mark


class HandlesEvents:
    """A class whose ``@on`` methods handle events; subclasses inherit and override them."""

    #: event type -> (the unbound handler, the fields it reads)
    handlers: ClassVar[dict[type[Event], tuple[Callable[..., Any], tuple[str, ...]]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.handlers = {}
        for klass in reversed(cls.__mro__):
            for attribute in vars(klass).values():
                for kind, fields in getattr(attribute, "_handles", ()):
                    cls.handlers[kind] = (attribute, fields)

    def handler_for(self, event: Event) -> Callable[..., Any] | None:
        """This object's handler of ``event`` (bound), or None when it does not follow it.

        A handler of an event type also handles its subclasses (as ``isinstance`` would):
        ``@on(Customer.DetailsChanged)`` sees every kind of details change.
        """
        kind = type(event)
        found = self.handlers.get(kind)
        if found is None:
            found = next((self.handlers[k] for k in kind.__mro__ if k in self.handlers), None)
        return None if found is None else found[0].__get__(self)
