"""MQTT topic rules (MQTT 3.1.1 section 4.7), as pure checks that return a problem or None."""

from __future__ import annotations


def filter_problem(pattern: str) -> str | None:
    """Why `pattern` is not a valid topic filter (wildcards allowed), or None."""
    if not pattern:
        return "a topic must not be empty"
    if "\x00" in pattern:
        return "a topic must not contain NUL"
    levels = pattern.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return "'#' must be a whole level and the last one"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None


def name_problem(topic: str) -> str | None:
    """Why `topic` cannot be published to (no wildcards, not $SYS), or None."""
    problem = filter_problem(topic)
    if problem:
        return problem
    if "+" in topic or "#" in topic:
        return "a published topic must not contain the wildcards '+' or '#'"
    if topic.startswith("$"):
        return "topics starting with '$' are reserved for the broker"
    return None


def matches(pattern: str, topic: str) -> bool:
    """True when the concrete `topic` is matched by the filter `pattern`."""
    pattern_levels = pattern.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(pattern_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(pattern_levels) == len(topic_levels)
