"""Per-chapter helpers for the notebooks: each ``chNN`` module holds that chapter's hints (``HINTS``) and the
helpers its cells call."""
