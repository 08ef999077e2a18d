"""The base of every manifest section: an unknown key stops start-up instead of being ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A manifest section: a typo in a key is an error naming it, never silently dropped."""

    model_config = ConfigDict(extra="forbid")
