"""The word lists of the action extractor (`adaptcommand.metrics.parser`): device phrases, value
words, cue and filler words. Data only; how they are used is described in the parser's module doc."""

from __future__ import annotations

FOREIGN = "<foreign>"

# ---------------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------------


def phrase_table(groups: dict[str, list[str]]) -> dict[tuple[str, ...], str]:
    """{label: [phrase, ...]} -> {phrase as a tuple of words: label}, for word-sequence matching."""
    return {tuple(phrase.split()): label for label, phrases in groups.items() for phrase in phrases}


DEVICE_PHRASES = phrase_table(
    {
        # streaming apps and HDMI name the TV as well as its input ("Netflix, volume at 20")
        "tv": ["tv", "tvs", "television", "televisions", "telly", "netflix", "youtube", "you tube", "hdmi"],
        "ac": [
            "ac",
            "air conditioner",
            "air conditioners",
            "air conditioning",
            "air conditioning unit",
            "air con",
            "aircon",
            "climate control",
            "climate",
            "thermostat",
            "hvac",
        ],
        "lights": ["light", "lights", "lamp", "lamps", "lighting", "bulb", "bulbs"],
        "speaker": [
            "speaker",
            "speakers",
            "sound system",
            "stereo",
            "music",
            "soundbar",
            "sound bar",
            "playlist",
        ],
        "security": ["security", "security system", "alarm", "alarm system", "alarms", "home security"],
        FOREIGN: [
            "blind",
            "blinds",
            "curtain",
            "curtains",
            "shades",
            "shutters",
            "garage",
            "garage door",
            "garage radio",
            "radio",
            "door",
            "doors",
            "lock",
            "locks",
            "coffee",
            "coffee machine",
            "coffee maker",
            "kettle",
            "oven",
            "fridge",
            "refrigerator",
            "vacuum",
            "sprinkler",
            "sprinklers",
            "heater",
            "water heater",
            "space heater",
            "fireplace",
            "humidifier",
            "dehumidifier",
            "purifier",
            "air purifier",
            "washer",
            "dryer",
            "dishwasher",
            "camera",
            "cameras",
            "security camera",
            "security cameras",
            "doorbell",
            "window",
            "windows",
            "computer",
            "laptop",
            "phone",
            "car",
            "ceiling fan",
            "desk fan",
            "floor fan",
            "standing fan",
            "table fan",
            "exhaust fan",
        ],
    }
)

# "light" followed by these is an adjective, not the lights.
NOT_LIGHT_AFTER = {
    "jazz",
    "music",
    "rain",
    "drizzle",
    "breeze",
    "snack",
    "meal",
    "dinner",
    "lunch",
    "breakfast",
    "reading",
    "workout",
    "sleep",
    "sleeper",
    "jacket",
    "blanket",
    "rock",
    "classical",
}
NOT_ALARM_BEFORE = {"wake", "wakeup", "morning"}

# parameter words ("cues") -> kind
CUE_PHRASES = phrase_table(
    {
        "volume": ["volume", "vol", "loudness"],
        "brightness": [
            "brightness",
            "brighten",
            "brightened",
            "dim",
            "dims",
            "dimmed",
            "dimming",
            "dimmer",
        ],
        "temperature": ["temperature", "temp", "temps"],
        "fan_speed": ["fan speed", "fan level", "fan setting", "fan", "speed"],
        "equalizer": ["equalizer", "equaliser", "eq", "equalization", "sound profile", "audio profile"],
        "mode": ["mode"],
        "color": [
            "colour",
            "color",
            "colours",
            "colors",
            "tone",
            "tones",
            "hue",
            "colour temperature",
            "color temperature",
            "color temp",
            "colour temp",
        ],
    }
)

NUMERIC_KINDS = ("volume", "brightness", "temperature", "fan_speed")

# kind -> device -> parameter (alarm volume is only reached by adjacency, see _resolve_numeric)
KIND_PARAMS: dict[str, dict[str, str]] = {
    "volume": {"tv": "volume", "speaker": "volume"},
    "brightness": {"tv": "brightness", "lights": "brightness"},
    "temperature": {"ac": "temperature"},
    "fan_speed": {"ac": "fan_speed"},
}

CLAUSE_SEPS = {",", ";", "and", "but", "or", "while", "then", "also", "plus", "whereas"}
WINDOW_STOPS = CLAUSE_SEPS | {"with", "?", "!"}
WINDOW = 6

ONES = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}

TIME_UNITS = {
    "am",
    "pm",
    "h",
    "hr",
    "hrs",
    "hour",
    "hours",
    "min",
    "mins",
    "minute",
    "minutes",
    "sec",
    "secs",
    "second",
    "seconds",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "o'clock",
    "oclock",
    "times",
    "people",
    "nights",
    "tonight",
    "sharp",
}
TIME_BEFORE = {"until", "till", "til", "by", "before", "after", "since", "channel", "episode", "season"}
TIME_BEFORE |= {"room", "track", "chapter", "floor", "number", "zone", "#", "part", "page"}
PERCENT = {"%", "percent", "pct"}
CELSIUS = {"c", "celsius", "centigrade"}
FAHRENHEIT = {"f", "fahrenheit"}
DEGREES = {"degrees", "degree", "deg", "°"}

LEADS = {"to", "at", "of", "on", "is", "around", "about", "approximately", "roughly", ":", "="}
BIND_PREPS = {"of", "on", "for", "in"}
BIND_BLOCK = {"to", "at", "is", "are", "was", "be", "from"}

APPS = {"av": "AV", "netflix": "Netflix", "youtube": "YouTube"}
NEGATIONS = {"not", "never", "no", "dont", "cannot"}

AC_MODE_WORDS = {
    "heat": "heat",
    "heating": "heat",
    "cool": "cool",
    "cooling": "cool",
    "auto": "auto",
    "automatic": "auto",
}
COLOR_WORDS = {"warm": "warm", "warmer": "warm", "cool": "cool", "cooler": "cool", "neutral": "neutral"}
LIGHT_MODE_WORDS = {"static": "static", "dynamic": "dynamic"}
COLOR_NOUNS = {
    "white",
    "whites",
    "light",
    "lights",
    "lighting",
    "lamp",
    "lamps",
    "bulb",
    "bulbs",
    "tone",
    "tones",
    "toned",
    "colour",
    "color",
    "colours",
    "colors",
    "coloured",
    "colored",
    "hue",
    "hues",
    "glow",
    "shade",
    "ambience",
    "ambiance",
}
MODE_NOUNS = {"mode", "setting", "settings", "function", "cycle"}
VALUE_FILLERS = {
    "to",
    "is",
    "are",
    "was",
    "set",
    "on",
    "in",
    "into",
    ":",
    "=",
    "now",
    "switched",
    "changed",
    "change",
    "switch",
    "of",
    "at",
    "be",
    "been",
    "the",
    "a",
    "it",
    "'s",
    "currently",
}
LIST_END = {",", ";", "and", "with", "at", "", ".", "!", "?", "to", "plus", "mode"}
VERB_PARTICLES = {"up", "down", "off", "it", "things", "yourself", "you", "me", "us"}
EQ_AFTER = {
    "eq",
    "equalizer",
    "equaliser",
    "equalization",
    "sound",
    "audio",
    "mode",
    "setting",
    "profile",
    "preset",
}
BOOST = {"boost", "boosted", "booster", "boosting", "boosts"}

STATE_ON_AFTER = {"on", "active", "activated", "enabled", "engaged", "armed"}
STATE_OFF_AFTER = {"off", "inactive", "deactivated", "disabled", "disengaged", "disarmed", "unarmed"}
STATE_AFTER_FILLERS = {
    "to",
    "with",
    "the",
    "in",
    "is",
    "are",
    "was",
    "now",
    "turned",
    "switched",
    "kept",
    "stays",
    "stay",
    "remains",
    "remain",
    "still",
    "be",
    "been",
    "being",
    "set",
    "left",
    "will",
    "fully",
    "all",
    "currently",
    "'s",
    "has",
    "have",
    "get",
    "gets",
    "got",
    "back",
    "system",
    "already",
}
STATE_ON_BEFORE = {"activate", "activated", "activating", "enable", "enabled", "enabling", "engage"}
STATE_ON_BEFORE |= {"engaged", "engaging", "reactivate", "reactivated"}
STATE_OFF_BEFORE = {"deactivate", "deactivated", "deactivating", "disable", "disabled", "disabling"}
STATE_OFF_BEFORE |= {"disengage", "disengaged", "disengaging"}
POWER_VERBS = {"turn", "turned", "turning", "turns", "switch", "switched", "switching", "switches"}
POWER_VERBS |= {"shut", "shutting", "power", "powered", "flip", "flipped", "put", "keep", "kept"}
STATE_BEFORE_FILLERS = {"the", "my", "your", "our", "home", "house", "whole", "entire", "a", "an"}
STATE_BEFORE_FILLERS |= {"all", "and", ",", "as", "well", "'s"}
ARM_WORDS = {"arm": True, "arms": True, "armed": True, "arming": True, "rearm": True, "rearmed": True}
ARM_WORDS |= {"disarm": False, "disarms": False, "disarmed": False, "disarming": False}
ARM_WORDS |= {"unarm": False, "unarmed": False}
