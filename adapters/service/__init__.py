"""``tollbook serve``: the composition root that hosts the API, the portal and the background
workers (projections, scheduler) in one process or split by role. It may import every entry
point; nothing imports it (.importlinter)."""
