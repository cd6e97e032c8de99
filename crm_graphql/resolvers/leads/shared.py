"""What the lead resolver modules share."""

from __future__ import annotations

# Writing leads needs one of these; the object rule (owner or LM) is checked per lead.
WRITE_BITS = ("LW", "LM")
