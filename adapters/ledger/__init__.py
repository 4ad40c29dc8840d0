"""The service layer: the ``Ledger`` application whose commands each get an aggregate, call its
command and save it (eventsourcing's get → command → save), with the event mapper that stores
the domain's pydantic events. Entry points call it; it imports only the domain and the
eventsourcing library, never another adapter."""
