"""The closed EdgeWisePersona schema: session context, routine triggers and device actions.

Everything that validates, generates or parses smart-home data imports its vocabulary from here,
so there is exactly one definition of what a legal device setting is.
"""

from __future__ import annotations

# The dataset's three line-aligned files (line i = user i), in this order everywhere.
RAW_FILES = ("characters.jsonl", "routines.jsonl", "sessions.jsonl")

# Session context (`meta`) and routine triggers share these fields and values.
CONTEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "time_of_day": ("morning", "afternoon", "evening", "night"),
    "day_of_week": ("weekday", "weekend"),
    "sun_phase": ("before_sunrise", "daylight", "after_sunset"),
    "weather": ("sunny", "cloudy", "rainy", "snowy"),
    "outdoor_temp": ("very cold", "cold", "mild", "warm", "hot"),
}

DEVICES: tuple[str, ...] = ("tv", "ac", "lights", "speaker", "security")

# device -> parameter -> ("int", (lo, hi)) | ("enum", values) | ("bool", None)
ACTION_SCHEMA: dict[str, dict[str, tuple[str, object]]] = {
    "tv": {
        "volume": ("int", (0, 100)),
        "brightness": ("int", (0, 100)),
        "input_source": ("enum", ("HDMI1", "HDMI2", "AV", "Netflix", "YouTube")),
    },
    "ac": {
        "temperature": ("int", (16, 30)),
        "mode": ("enum", ("cool", "heat", "auto")),
        "fan_speed": ("int", (0, 3)),
    },
    "lights": {
        "brightness": ("int", (0, 100)),
        "color": ("enum", ("warm", "cool", "neutral")),
        "mode": ("enum", ("static", "dynamic")),
    },
    "speaker": {
        "volume": ("int", (0, 100)),
        "equalizer": ("enum", ("bass boost", "balanced", "treble boost")),
    },
    "security": {
        "armed": ("bool", None),
        "alarm_volume": ("int", (0, 100)),
    },
}

ROLES: tuple[str, ...] = ("user", "assistant")

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful smart home assistant. Help the user control their devices by "
    "understanding their preferences and the current context."
)


def persona_id(index: int) -> str:
    """Persona ids follow the line number of the dataset files: persona_000, persona_001, ..."""
    return f"persona_{index:03d}"


def check_action_value(device: str, parameter: str, value: object) -> str | None:
    """Return None if `value` is legal for device.parameter, else a short description of the problem."""
    if device not in ACTION_SCHEMA:
        return f"unknown device {device!r}"
    params = ACTION_SCHEMA[device]
    if parameter not in params:
        return f"unknown parameter {device}.{parameter}"
    kind, spec = params[parameter]
    if kind == "bool":
        return None if isinstance(value, bool) else f"{device}.{parameter} must be true/false, got {value!r}"
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{device}.{parameter} must be an integer, got {value!r}"
        lo, hi = spec  # type: ignore[misc]
        if not lo <= value <= hi:
            return f"{device}.{parameter}={value} outside {lo}..{hi}"
        return None
    if value not in spec:  # type: ignore[operator]
        return f"{device}.{parameter}={value!r} not one of {list(spec)}"  # type: ignore[arg-type]
    return None
