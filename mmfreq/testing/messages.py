"""Checks of what a message tells a user (file, key, value), not of its wording."""
from typing import Optional


def line_with(text: str, *facts: str) -> Optional[str]:
    """The first line of ``text`` that contains every one of ``facts``, or None.

    A message whose facts are spread over unrelated lines (a path in the
    command line echo, a key in another error) does not count.
    """
    return next((line for line in text.splitlines() if all(f in line for f in facts)), None)
