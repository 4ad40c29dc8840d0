"""Running tollbook as a service: shared context, background workers, ``tollbook serve``."""
