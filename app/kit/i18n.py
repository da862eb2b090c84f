"""Marking strings for translation outside templates."""


def N_(message: str) -> str:  # noqa: N802 - the gettext marker's customary name
    """Marks a message for extraction; templates translate it when they show it."""
    return message
