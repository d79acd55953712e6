"""Deterministic synthetic EdgeWisePersona-shaped data: a real (small) personalisation task.

Each persona has a name, a character sketch (trait, occupation, two hobbies), a speaking style
(formal / casual / terse / chatty) and 3-5 routines. A routine is an *activity* ("movie night",
"reading", ...) with 2-4 context triggers and 2-3 devices set to persona-specific values. Routines of
one persona are mutually exclusive: any two of them disagree on a trigger field they both constrain,
so a session context matches at most one routine.

About 75% of sessions are routine-driven: the session context matches the routine's triggers and
the user asks for the activity, often WITHOUT stating values ("the usual movie night setup, please");
the correct assistant reply then states that persona's values ("Setting the TV to volume 20 and
Netflix, and the lights to 30% brightness."). Other turns state the values, ask clarifying questions,
or are pleasantries. About 25% are spontaneous: random legal settings the user states explicitly.

Output rows have exactly the shape of the dataset's three line-aligned files (pydantic-style dumps,
unset trigger fields / devices / parameters present as null). Everything is drawn from
`random.Random` instances seeded from (seed, stream, persona index), so the same arguments give
byte-identical files and persona i does not depend on how many personas are generated.

The words are data: every word list and phrase table is in vocabulary.yaml beside this module (read
once at import, `load_vocabulary`). The code holds how a persona, a routine and a session are drawn,
and the world's rules (default value ranges, coherent contexts).
"""

from __future__ import annotations

import random
from importlib import resources
from pathlib import Path

import yaml

from adaptcommand.data.io import write_jsonl_atomic
from adaptcommand.schema import ACTION_SCHEMA, CONTEXT_FIELDS, DEVICES, RAW_FILES, check_action_value

__all__ = [
    "generate",
    "generated_acts",
    "pretraining_corpus",
    "write_raw",
    "write_rows",
    "load_vocabulary",
    "NAMES",
]


# --------------------------------------------------------------------------------------------------
# Vocabulary (vocabulary.yaml) and the world's rules
# --------------------------------------------------------------------------------------------------

VOCABULARY_FILE = "vocabulary.yaml"
_PER_PARAMETER = ("to_forms", "with_forms")  # and each activity's "bias": "device.parameter" keys


def _tuples(node: object) -> object:
    """YAML lists as tuples, all the way down: the tables are read-only, as the literals they were."""
    if isinstance(node, list):
        return tuple(_tuples(item) for item in node)
    if isinstance(node, dict):
        return {key: _tuples(value) for key, value in node.items()}
    return node


def _per_parameter(table: dict) -> dict[tuple[str, str], object]:
    """{"lights.brightness": x} -> {("lights", "brightness"): x}."""
    return {tuple(key.split(".", 1)): value for key, value in table.items()}


def load_vocabulary(path: str | Path | None = None) -> dict:
    """vocabulary.yaml of this package (or `path`) as the generator uses it: every list a tuple, the
    per-parameter tables (to_forms, with_forms, each activity's bias) keyed by (device, parameter),
    the keys of armed_to / armed_with the booleans true / false. Mapping order is the file's."""
    if path is None:
        text = resources.files(__package__).joinpath(VOCABULARY_FILE).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    vocab = _tuples(yaml.safe_load(text))
    for name in _PER_PARAMETER:
        vocab[name] = _per_parameter(vocab[name])
    for spec in vocab["activities"].values():
        spec["bias"] = _per_parameter(spec["bias"])
    return vocab


_V = load_vocabulary()
# A persona: (first name, pronoun) from ONE pool for evaluated and pretraining personas (pretraining
# persona i is NAMES[i % len(NAMES)]), surname, trait, occupation, two (hobby, activity), style.
NAMES: tuple[tuple[str, str], ...] = _V["names"]
SURNAMES: tuple[str, ...] = _V["surnames"]
TRAITS: tuple[str, ...] = _V["traits"]
OCCUPATIONS: tuple[str, ...] = _V["occupations"]
HOBBIES: tuple[tuple[str, str], ...] = _V["hobbies"]
STYLES: tuple[str, ...] = _V["styles"]
STYLE_SKETCH: dict[str, tuple[str, ...]] = _V["style_sketch"]
PRONOUNS: dict[str, tuple[str, str]] = _V["pronouns"]
HOME_HABITS: tuple[str, ...] = _V["home_habits"]
# activity -> times, core, extra, phrases, bias ((device, parameter) -> candidate values)
ACTIVITIES: dict[str, dict] = _V["activities"]
# Phrasing of device settings
DEVICE_NAMES: dict[str, tuple[str, ...]] = _V["device_names"]
SHORT_NAMES: dict[str, str] = _V["short_names"]
TO_FORMS: dict[tuple[str, str], tuple[str, ...]] = _V["to_forms"]  # "set <device> to ___"
WITH_FORMS: dict[tuple[str, str], tuple[str, ...]] = _V["with_forms"]  # "<device> with ___"
ARMED_TO: dict[bool, tuple[str, ...]] = _V["armed_to"]
ARMED_WITH: dict[bool, tuple[str, ...]] = _V["armed_with"]
TOD_NOUN: dict[str, str] = _V["tod_noun"]
TOD_ADV: dict[str, str] = _V["tod_adv"]
TEMP_WORD: dict[str, str] = _V["temp_word"]
WEATHER_SENTENCE: dict[str, tuple[str, ...]] = _V["weather_sentence"]
# The assistant's confirmations and questions
SECURITY_ARMING: tuple[str, ...] = _V["security_arming"]
SECURITY_ALARM: tuple[str, ...] = _V["security_alarm"]
CONFIRM: dict[str, tuple[str, ...]] = _V["confirm"]
CLARIFY: dict[str, tuple[str, ...]] = _V["clarify"]
# The user's requests
IMPLICIT_DEVICE_VP: dict[str, tuple[str, ...]] = _V["implicit_device_vp"]
HEAT_VP: tuple[str, ...] = _V["heat_vp"]
COOL_VP: tuple[str, ...] = _V["cool_vp"]
IMPLICIT_DEVICES_VP: tuple[str, ...] = _V["implicit_devices_vp"]
SPONT_IMPLICIT_VP: dict[str, tuple[str, ...]] = _V["spont_implicit_vp"]
ROUTINE_VP: tuple[str, ...] = _V["routine_vp"]
REST_USER: tuple[str, ...] = _V["rest_user"]
REQUEST: dict[str, tuple[str, ...]] = _V["request"]
EXPLICIT_VERBS: tuple[str, ...] = _V["explicit_verbs"]
VALUE_ANSWER: dict[str, tuple[str, ...]] = _V["value_answer"]
# Pleasantries and small talk
GREETING: dict[str, tuple[str, ...]] = _V["greeting"]
CONTEXT_REMARK: tuple[str, ...] = _V["context_remark"]
DAY_REMARK: dict[str, tuple[str, ...]] = _V["day_remark"]
THANKS: dict[str, tuple[str, ...]] = _V["thanks"]
BYE: dict[str, tuple[str, ...]] = _V["bye"]
FAREWELL: dict[str, str] = _V["farewell"]
ASSISTANT_GREET: tuple[str, ...] = _V["assistant_greet"]
ASSISTANT_WELCOME: tuple[str, ...] = _V["assistant_welcome"]
ASSISTANT_WELCOME_ACTIVITY: str = _V["assistant_welcome_activity"]
ASSISTANT_BYE: tuple[str, ...] = _V["assistant_bye"]
SMALLTALK_USER: dict[str, tuple[str, ...]] = _V["smalltalk_user"]
SMALLTALK_ASSISTANT: tuple[str, ...] = _V["smalltalk_assistant"]
CHECK_USER: dict[str, tuple[str, ...]] = _V["check_user"]
CHECK_ASSISTANT: tuple[str, ...] = _V["check_assistant"]
SUMMARY: dict[str, str] = _V["summary"]

# The world's rules stay code: the values a setting takes (from the schema), coherent contexts.
# Plausible (not exhaustive) default values: volumes / brightness multiples of 5.
DEFAULT_VALUES: dict[tuple[str, str], tuple] = {
    ("tv", "volume"): tuple(range(10, 65, 5)),
    ("tv", "brightness"): tuple(range(30, 105, 5)),
    ("tv", "input_source"): ACTION_SCHEMA["tv"]["input_source"][1],
    ("ac", "temperature"): tuple(range(17, 29)),
    ("ac", "mode"): ACTION_SCHEMA["ac"]["mode"][1],
    ("ac", "fan_speed"): (0, 1, 2, 3),
    ("lights", "brightness"): tuple(range(10, 105, 5)),
    ("lights", "color"): ACTION_SCHEMA["lights"]["color"][1],
    ("lights", "mode"): ACTION_SCHEMA["lights"]["mode"][1],
    ("speaker", "volume"): tuple(range(10, 75, 5)),
    ("speaker", "equalizer"): ACTION_SCHEMA["speaker"]["equalizer"][1],
    ("security", "armed"): (True, False),
    ("security", "alarm_volume"): tuple(range(30, 105, 5)),
}
AC_TEMP_BY_MODE = {"heat": tuple(range(20, 27)), "cool": tuple(range(17, 24)), "auto": tuple(range(19, 25))}

TOD_SUN = {
    "morning": ("before_sunrise", "daylight"),
    "afternoon": ("daylight",),
    "evening": ("daylight", "after_sunset"),
    "night": ("after_sunset", "before_sunrise"),
}
WEATHER_TEMP_ALLOWED = {
    "sunny": ("very cold", "cold", "mild", "warm", "hot"),
    "cloudy": ("very cold", "cold", "mild", "warm", "hot"),
    "rainy": ("cold", "mild", "warm"),
    "snowy": ("very cold", "cold"),
}

# --------------------------------------------------------------------------------------------------
# Phrasing of device settings
# --------------------------------------------------------------------------------------------------


def _fmt(value: object) -> str:
    return str(value)


def _pick(rng: random.Random, options) -> object:
    return options[rng.randrange(len(options))]


def _join(parts: list[str], rng: random.Random) -> str:
    if len(parts) == 1:
        return parts[0]
    last_sep = _pick(rng, (" and ", ", and ", " and ")) if len(parts) > 2 else " and "
    return ", ".join(parts[:-1]) + last_sep + parts[-1]


def _params_text(rng: random.Random, device: str, params: dict, forms: str) -> str:
    table = TO_FORMS if forms == "to" else WITH_FORMS
    parts = []
    for param, value in params.items():
        if param == "armed":
            parts.append(_pick(rng, (ARMED_TO if forms == "to" else ARMED_WITH)[value]))
        else:
            parts.append(_pick(rng, table[(device, param)]).format(v=_fmt(value)))
    return _join(parts, rng)


def _dev_name(rng: random.Random, device: str) -> str:
    return _pick(rng, DEVICE_NAMES[device])


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _to_clause(rng: random.Random, device: str, params: dict) -> str:
    """'the AC to heat mode, 22 degrees and fan speed 2'"""
    return f"{_dev_name(rng, device)} to {_params_text(rng, device, params, 'to')}"


def _compact_clause(rng: random.Random, device: str, params: dict) -> str:
    """'AC heat mode, 22 degrees' / 'lights 40% brightness and warm colour'"""
    return f"{SHORT_NAMES[device]} {_params_text(rng, device, params, 'to')}"


def _with_clause(rng: random.Random, device: str, params: dict) -> str:
    """'the AC with temperature at 22 and fan speed 2'"""
    return f"{_dev_name(rng, device)} with {_params_text(rng, device, params, 'with')}"


def _is_clause(rng: random.Random, device: str, params: dict) -> str:
    """'The AC is now set to heat mode at 22 degrees'"""
    name = _dev_name(rng, device)
    verb = "are" if name.endswith(("lights", "lamps")) else "is"
    return f"{_cap(name)} {verb} now set to {_params_text(rng, device, params, 'to')}"


def _security_sentence(rng: random.Random, params: dict) -> str | None:
    """Natural phrasing for arming: 'arm the security system with the alarm at 40'."""
    if params.get("armed") is not True:
        return None
    text = _pick(rng, SECURITY_ARMING)
    if "alarm_volume" in params:
        text += _pick(rng, SECURITY_ALARM).format(v=params["alarm_volume"])
    return text


def assistant_confirm(rng: random.Random, items: list[tuple[str, dict]], activity: str | None = None) -> str:
    """An assistant turn that states every value of `items` ((device, params) pairs), preferring
    5-25 words (a few draws; the shortest over-long one is kept if none fits)."""
    best, best_gap = "", None
    for _ in range(8):
        text = _confirm_once(rng, items, activity)
        n_words = len(text.split())
        gap = max(0, 5 - n_words, n_words - 25)
        if gap == 0:
            return text
        if best_gap is None or gap < best_gap:
            best, best_gap = text, gap
    return best


def _confirm_once(rng: random.Random, items: list[tuple[str, dict]], activity: str | None) -> str:
    frame = rng.randrange(6)
    if frame == 0:  # Setting the AC to ..., and the lights to ...
        lead = _pick(rng, CONFIRM["setting"])
        clauses = []
        for device, params in items:
            sec = _security_sentence(rng, params) if device == "security" and rng.random() < 0.6 else None
            clauses.append(sec or _to_clause(rng, device, params))
        if clauses[0].startswith("arming"):  # security alone (it is always the last device)
            return _cap(clauses[0]) + "."
        return f"{lead} {_join(clauses, rng)}."
    if frame == 1:  # The AC is now set to .... The lights are now set to ...
        prefix = _pick(rng, CONFIRM["done_prefix"])
        return prefix + " ".join(_is_clause(rng, d, p) + "." for d, p in items)
    if frame == 2:  # Done: AC heat mode, 22 degrees; lights 40% brightness.
        lead = _pick(rng, CONFIRM["compact"])
        return f"{lead} {'; '.join(_compact_clause(rng, d, p) for d, p in items)}."
    if frame == 3:  # Turning on the AC with temperature at 22, and the lights with ...
        lead = _pick(rng, CONFIRM["turning_on"])
        return f"{lead} {_join([_with_clause(rng, d, p) for d, p in items], rng)}."
    if frame == 4 and activity:  # Setting up your usual movie night: ...
        lead = _pick(rng, CONFIRM["activity"]).format(activity=activity)
        return f"{lead} {', '.join(_compact_clause(rng, d, p) for d, p in items)}."
    # I've adjusted the AC to ... / Adjusting ...
    lead = _pick(rng, CONFIRM["adjusted"])
    return f"{lead} {_join([_to_clause(rng, d, p) for d, p in items], rng)}."


# --------------------------------------------------------------------------------------------------
# Persona-style user phrasing
# --------------------------------------------------------------------------------------------------


def _greeting(rng: random.Random, style: str, meta: dict) -> str:
    tod = meta["time_of_day"]
    polite = "evening" if tod == "night" else tod
    return _pick(rng, GREETING[style]).format(polite=polite)


def _context_remark(rng: random.Random, meta: dict) -> str:
    tod, weather, temp = meta["time_of_day"], meta["weather"], meta["outdoor_temp"]
    words = {
        "temp_word": TEMP_WORD[temp],
        "weather": weather,
        "tod_adv": TOD_ADV[tod],
        "tod_noun": TOD_NOUN[tod],
    }
    options = [template.format(**words) for template in CONTEXT_REMARK]
    options.append(_pick(rng, WEATHER_SENTENCE[weather]))
    options.append(_pick(rng, DAY_REMARK["weekend" if meta["day_of_week"] == "weekend" else "weekday"]))
    return _pick(rng, options)


def _wrap_request(rng: random.Random, style: str, vp: str, meta: dict, opener: bool) -> str:
    """Turn a verb phrase ('set the lights to 40% brightness') into a user turn in the persona's style."""
    body = _pick(rng, REQUEST[style]).format(vp=vp, Vp=_cap(vp))
    parts = []
    if opener and (style != "terse" or rng.random() < 0.3) and rng.random() < 0.8:
        parts.append(_greeting(rng, style, meta))
    chatty = style == "chatty" and rng.random() < (0.85 if opener else 0.2)
    if chatty or (opener and style != "terse" and rng.random() < 0.3):
        parts.append(_context_remark(rng, meta))
    parts.append(body)
    return " ".join(parts)


def _explicit_vp(rng: random.Random, style: str, items: list[tuple[str, dict]]) -> str:
    if style == "terse" and rng.random() < 0.6:
        return "; ".join(_compact_clause(rng, d, p) for d, p in items)
    verb = _pick(rng, EXPLICIT_VERBS)
    return f"{verb} {_join([_to_clause(rng, d, p) for d, p in items], rng)}"


def _value_answer(rng: random.Random, style: str, items: list[tuple[str, dict]]) -> str:
    # One device: its values alone answer the question about it; several: each named with its device.
    if len(items) == 1:
        values = _params_text(rng, *items[0], "to")
    else:
        values = _join([_compact_clause(rng, d, p) for d, p in items], rng)
    return _pick(rng, VALUE_ANSWER[style]).format(values=values, Values=_cap(values))


def _thanks(rng: random.Random, style: str) -> str:
    return _pick(rng, THANKS[style])


def _bye(rng: random.Random, style: str, meta: dict) -> str:
    return _pick(rng, BYE[style]).format(farewell=FAREWELL[meta["time_of_day"]])


def _assistant_greet(rng: random.Random, name: str, meta: dict) -> str:
    tod = meta["time_of_day"]
    polite = "evening" if tod == "night" else tod
    return _pick(rng, ASSISTANT_GREET).format(polite=polite, name=name)


def _assistant_welcome(rng: random.Random, name: str, meta: dict, activity: str | None) -> str:
    options = list(ASSISTANT_WELCOME)
    if activity:
        options.append(ASSISTANT_WELCOME_ACTIVITY)
    return _pick(rng, options).format(tod=TOD_NOUN[meta["time_of_day"]], name=name, activity=activity)


def _assistant_bye(rng: random.Random, name: str, meta: dict) -> str:
    return _pick(rng, ASSISTANT_BYE).format(name=name, tod=TOD_NOUN[meta["time_of_day"]])


def _smalltalk(rng: random.Random, style: str, meta: dict) -> tuple[str, str]:
    user = _pick(rng, SMALLTALK_USER[style])
    weather, temp, tod = meta["weather"], meta["outdoor_temp"], TOD_NOUN[meta["time_of_day"]]
    return user, _pick(rng, SMALLTALK_ASSISTANT).format(weather=weather, temp=temp, tod=tod)


def _check(rng: random.Random, style: str, name: str) -> tuple[str, str]:
    user = _pick(rng, CHECK_USER[style])
    return user, _pick(rng, CHECK_ASSISTANT).format(name=name)


# --------------------------------------------------------------------------------------------------
# Personas and routines
# --------------------------------------------------------------------------------------------------


def _coherent(ctx: dict) -> bool:
    tod, sun = ctx.get("time_of_day"), ctx.get("sun_phase")
    if tod and sun and sun not in TOD_SUN[tod]:
        return False
    weather, temp = ctx.get("weather"), ctx.get("outdoor_temp")
    if weather and temp and temp not in WEATHER_TEMP_ALLOWED[weather]:
        return False
    return True


def _matches(triggers: dict, meta: dict) -> bool:
    return all(meta[k] == v for k, v in triggers.items())


def _exclusive(a: dict, b: dict) -> bool:
    """No context can satisfy both trigger sets: they disagree on a shared field."""
    return any(k in b and b[k] != v for k, v in a.items())


def _sample_meta(rng: random.Random, fixed: dict, times: tuple[str, ...] | None = None) -> dict:
    """A full coherent context containing `fixed`; time_of_day drawn from `times` when given and free."""
    choices = dict(CONTEXT_FIELDS)
    if times and "time_of_day" not in fixed:
        choices["time_of_day"] = tuple(times)
    for _ in range(1000):
        meta = {f: fixed[f] if f in fixed else _pick(rng, vals) for f, vals in choices.items()}
        if _coherent(meta):
            return meta
    raise RuntimeError(f"cannot complete context {fixed}")  # pragma: no cover - triggers are coherent


def _sample_value(rng: random.Random, device: str, param: str, bias: dict, ac_mode: str | None) -> object:
    if device == "ac" and param == "temperature" and ac_mode:
        values = AC_TEMP_BY_MODE[ac_mode]
    else:
        values = tuple(bias.get((device, param), DEFAULT_VALUES[(device, param)]))
    value = _pick(rng, values)
    assert check_action_value(device, param, value) is None, (device, param, value)
    return value


def _sample_device_params(
    rng: random.Random, device: str, n_params: int, bias: dict, triggers: dict, force: tuple[str, ...] = ()
) -> dict:
    names = list(ACTION_SCHEMA[device])
    chosen = [p for p in force if p in names]
    rest = [p for p in names if p not in chosen]
    rng.shuffle(rest)
    chosen += rest[: max(0, n_params - len(chosen))]
    chosen = [p for p in names if p in chosen]  # schema order
    mode = None
    if device == "ac":
        temp = triggers.get("outdoor_temp")
        if (device, "mode") in bias:
            mode = _pick(rng, tuple(bias[(device, "mode")]))
        elif temp in ("very cold", "cold"):
            mode = "heat"
        elif temp in ("warm", "hot"):
            mode = "cool"
        else:
            mode = _pick(rng, ("heat", "cool", "auto"))
    params = {}
    for p in chosen:
        if device == "ac" and p == "mode":
            params[p] = mode
        else:
            params[p] = _sample_value(rng, device, p, bias, mode if device == "ac" else None)
    return params


def _make_routine(rng: random.Random, triggers: dict, activity: str) -> dict:
    spec = ACTIVITIES[activity]
    for _ in range(100):
        n_dev = _pick(rng, (2, 2, 3, 3, 3))
        devices = [_pick(rng, spec["core"])]
        extras = [d for d in spec["extra"] if d not in devices]
        rng.shuffle(extras)
        devices += extras[: n_dev - 1]
        devices = [d for d in DEVICES if d in devices]
        actions = {}
        for device in devices:
            n_params = min(len(ACTION_SCHEMA[device]), _pick(rng, (1, 2, 2, 3)))
            force = ("armed",) if device == "security" and rng.random() < 0.9 else ()
            actions[device] = _sample_device_params(rng, device, n_params, spec["bias"], triggers, force)
        if sum(len(p) for p in actions.values()) <= 6:
            return actions
    raise RuntimeError("cannot build routine")  # pragma: no cover


def _full_triggers(triggers: dict) -> dict:
    return {f: triggers.get(f) for f in CONTEXT_FIELDS}


def _full_actions(actions: dict) -> dict:
    return {
        device: ({p: actions[device].get(p) for p in ACTION_SCHEMA[device]} if device in actions else None)
        for device in DEVICES
    }


def _make_persona(rng: random.Random, name: tuple[str, str] | None) -> dict:
    """A persona; its first name is drawn from NAMES unless `name` (first, pronoun) is given."""
    first, pron = _pick(rng, NAMES) if name is None else name
    name = f"{first} {_pick(rng, SURNAMES)}"
    style = _pick(rng, STYLES)
    trait = _pick(rng, TRAITS)
    occupation = _pick(rng, OCCUPATIONS)
    hobby_idx = rng.sample(range(len(HOBBIES)), 2)
    hobbies = [HOBBIES[i] for i in hobby_idx]
    he, his = PRONOUNS[pron]
    article = "an" if trait[0] in "aeiou" else "a"
    sketch = (
        f"{name} is {article} {trait} {occupation} who loves {hobbies[0][0]} and {hobbies[1][0]}. "
        f"{he} {_pick(rng, STYLE_SKETCH[style])}. "
        + _pick(rng, HOME_HABITS).format(He=he, his=his, first=first)
    )

    # Routines: mutually exclusive, coherent triggers; distinct activities, hobbies favoured.
    n_routines = _pick(rng, (3, 4, 4, 5))
    hobby_acts = [h[1] for h in hobbies]
    fields = list(CONTEXT_FIELDS)
    for _restart in range(100):
        routines: list[dict] = []
        used_acts: list[str] = []
        attempts = 0
        while len(routines) < n_routines and attempts < 300:
            attempts += 1
            k = _pick(rng, (2, 2, 3, 3, 3, 4))
            picked = rng.sample(fields, k)
            trig = {f: _pick(rng, CONTEXT_FIELDS[f]) for f in fields if f in picked}
            if not _coherent(trig) or not all(_exclusive(trig, r["triggers"]) for r in routines):
                continue
            tods = {t for t in CONTEXT_FIELDS["time_of_day"] if _coherent({**trig, "time_of_day": t})}
            tods &= {trig["time_of_day"]} if "time_of_day" in trig else tods
            acts = [a for a in ACTIVITIES if a not in used_acts and tods & set(ACTIVITIES[a]["times"])]
            if not acts:
                continue
            preferred = [a for a in hobby_acts if a in acts]
            activity = _pick(rng, preferred) if preferred and rng.random() < 0.6 else _pick(rng, acts)
            used_acts.append(activity)
            routines.append(
                {"triggers": trig, "actions": _make_routine(rng, trig, activity), "activity": activity}
            )
        if len(routines) == n_routines:
            break
    else:  # pragma: no cover - never observed
        raise RuntimeError("cannot sample mutually exclusive routines")
    weights = [rng.randint(1, 3) for _ in routines]
    return {
        "name": name,
        "first": first,
        "style": style,
        "character": sketch,
        "routines": routines,
        "weights": weights,
    }


# --------------------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------------------

# What the generator meant each assistant turn to do, by step kind: state the persona's routine values
# the user left implicit ("the usual"), confirm values the user stated, or anything else (a clarifying
# question, greetings, small talk). `routines.turn_kind` must recover this from the data alone.
STEP_ACTS = {
    "all": ("routine",),
    "rest": ("routine",),
    "implicit": ("routine",),
    "explicit": ("stated",),
    "clarify": ("other", "stated"),  # the question, then the confirmation of the values given
}
ACTS_KEY = "_acts"  # generator-side annotation; never written to the dataset files

ROUTINE_SHARE = 0.75  # routine-driven sessions, as in EdgeWisePersona (about 75%)
LENGTH_CHOICES = (6, 7, 8, 8, 9, 9, 9, 10, 10, 10, 10, 10, 11, 11, 11, 11, 12, 12, 12, 12)  # mean 9.9


def _chunk(items: list[tuple[str, dict]], max_params: int = 4) -> list[list[tuple[str, dict]]]:
    groups: list[list[tuple[str, dict]]] = [[]]
    for item in items:
        if groups[-1] and sum(len(p) for _, p in groups[-1]) + len(item[1]) > max_params:
            groups.append([])
        groups[-1].append(item)
    return groups


def _steps_pairs(steps: list[dict]) -> int:
    return sum(2 if s["kind"] == "clarify" else 1 for s in steps)


def _fit_steps(steps: list[dict], max_pairs: int) -> list[dict]:
    for s in steps:
        if _steps_pairs(steps) <= max_pairs:
            break
        if s["kind"] == "clarify":
            s["kind"] = "explicit"
    while _steps_pairs(steps) > max_pairs and len(steps) > 1:
        a, b = steps[-2], steps[-1]
        kind = "implicit" if "implicit" in (a["kind"], b["kind"]) or b["kind"] == "rest" else a["kind"]
        if a["kind"] in ("all", "rest"):
            kind = a["kind"]
        steps[-2:] = [{"kind": kind, "items": a["items"] + b["items"]}]
    return steps


def _routine_steps(rng: random.Random, items: list[tuple[str, dict]]) -> list[dict]:
    if rng.random() < 0.4:
        groups = _chunk(items)
        return [{"kind": "all", "items": groups[0]}] + [{"kind": "rest", "items": g} for g in groups[1:]]
    steps = []
    for device, params in items:
        if steps and rng.random() < 0.25 and sum(len(p) for _, p in steps[-1]["items"]) + len(params) <= 4:
            steps[-1]["items"].append((device, params))
            continue
        r = rng.random()
        kind = "implicit" if r < 0.55 else ("explicit" if r < 0.85 else "clarify")
        steps.append({"kind": kind, "items": [(device, params)]})
    return steps


def _spontaneous_items(rng: random.Random) -> list[tuple[str, dict]]:
    devices = rng.sample(list(DEVICES), _pick(rng, (1, 2, 2)))
    devices = [d for d in DEVICES if d in devices]
    items = []
    for device in devices:
        n_params = min(len(ACTION_SCHEMA[device]), _pick(rng, (1, 1, 2)))
        items.append((device, _sample_device_params(rng, device, n_params, {}, {})))
    return items


def _render_step(
    rng: random.Random,
    step: dict,
    persona: dict,
    meta: dict,
    activity: str | None,
    opener: bool,
) -> list[tuple[str, str]]:
    style, items = persona["style"], step["items"]
    kind = step["kind"]
    act = activity or "the evening"
    if kind == "all":
        spec = ACTIVITIES[activity]
        vp = _pick(rng, ROUTINE_VP).format(act=activity, phrase=_pick(rng, spec["phrases"]))
        user = _wrap_request(rng, style, vp, meta, opener)
        return [(user, assistant_confirm(rng, items, activity))]
    if kind == "rest":
        return [(_pick(rng, REST_USER), assistant_confirm(rng, items, activity))]
    if kind == "implicit":
        device = items[0][0]
        options = list(IMPLICIT_DEVICE_VP[device])
        if device == "ac":
            mode = items[0][1].get("mode")
            options += list(HEAT_VP if mode == "heat" else COOL_VP if mode == "cool" else ())
        if len(items) > 1:
            options = list(IMPLICIT_DEVICES_VP)
        devices = " and ".join(SHORT_NAMES[d] for d, _ in items)
        vp = _pick(rng, options).format(act=act, devices=devices)
        user = _wrap_request(rng, style, vp, meta, opener)
        return [(user, assistant_confirm(rng, items, activity))]
    if kind == "explicit":
        user = _wrap_request(rng, style, _explicit_vp(rng, style, items), meta, opener)
        return [(user, assistant_confirm(rng, items, activity))]
    # clarify: a request without values, a question, the values, the confirmation
    device = items[0][0]
    vp = _pick(rng, SPONT_IMPLICIT_VP[device])
    first = _wrap_request(rng, style, vp, meta, opener)
    question = _pick(rng, CLARIFY[device])
    return [(first, question), (_value_answer(rng, style, items), assistant_confirm(rng, items, activity))]


def _make_session(
    rng: random.Random, persona: dict, session_id: int, routine_share: float = ROUTINE_SHARE
) -> dict:
    routines = persona["routines"]
    routine_driven = rng.random() < routine_share
    if routine_driven:
        idx = rng.choices(range(len(routines)), weights=persona["weights"])[0]
        routine = routines[idx]
        meta = _sample_meta(rng, routine["triggers"], ACTIVITIES[routine["activity"]]["times"])
        items = list(routine["actions"].items())
        steps = _routine_steps(rng, items)
        activity = routine["activity"]
    else:
        idx = None
        for _ in range(50):
            meta = _sample_meta(rng, {})
            if not any(_matches(r["triggers"], meta) for r in routines):
                break
        items = _spontaneous_items(rng)
        steps = []
        for device, params in items:
            kind = "explicit" if rng.random() < 0.6 else "clarify"
            steps.append({"kind": kind, "items": [(device, params)]})
        activity = None

    length = _pick(rng, LENGTH_CHOICES)
    n_pairs, trailing_user = length // 2, length % 2 == 1
    steps = _fit_steps(steps, n_pairs)
    extra = n_pairs - _steps_pairs(steps)
    fillers = [f for f in ("greet", "small", "check", "thanks", "bye") if rng.random() < 0.5]
    for f in ("thanks", "greet", "bye", "check", "small"):  # top up in order of naturalness
        if len(fillers) >= extra:
            break
        if f not in fillers:
            fillers.append(f)
    keep = set(rng.sample(fillers, extra)) if extra < len(fillers) else set(fillers)
    fillers = [f for f in ("greet", "small", "check", "thanks", "bye") if f in keep]

    name, style = persona["first"], persona["style"]
    pairs: list[tuple[str, str]] = []
    acts: list[str] = []  # what each assistant turn was generated to do (GENERATED_ACTS)

    def add(pair: tuple[str, str], act: str = "other") -> None:
        pairs.append(pair)
        acts.append(act)

    if "greet" in fillers:
        add((_greeting(rng, style, meta), _assistant_greet(rng, name, meta)))
    if "small" in fillers and rng.random() < 0.5:
        add(_smalltalk(rng, style, meta))
        fillers.remove("small")
    for i, step in enumerate(steps):
        rendered = _render_step(rng, step, persona, meta, activity, opener=not pairs and i == 0)
        for pair, act in zip(rendered, STEP_ACTS[step["kind"]], strict=True):
            add(pair, act)
    if "small" in fillers:
        add(_smalltalk(rng, style, meta))
    if "check" in fillers:
        add(_check(rng, style, name))
    if "thanks" in fillers:
        add((_thanks(rng, style), _assistant_welcome(rng, name, meta, activity)))
    if "bye" in fillers:
        add((_bye(rng, style, meta), _assistant_bye(rng, name, meta)))
    messages = []
    for user, assistant in pairs:
        messages.append({"role": "user", "text": user})
        messages.append({"role": "assistant", "text": assistant})
    if trailing_user:
        last = _bye(rng, style, meta) if "thanks" in fillers or rng.random() < 0.4 else _thanks(rng, style)
        messages.append({"role": "user", "text": last})

    devices = " and ".join(SHORT_NAMES[d] for d, _ in items)
    if routine_driven:
        summary = SUMMARY["routine"].format(name=name, activity=activity, devices=devices)
        applied = [idx]
    else:
        summary = SUMMARY["spontaneous"].format(name=name, devices=devices)
        applied = None if rng.random() < 0.5 else []
    if rng.random() < 0.1:
        summary = None
    return {
        "session_id": session_id,
        "meta": meta,
        "messages": messages,
        "applied_routines": applied,
        "session_summarization": summary,
        ACTS_KEY: acts,
    }


def _generate(
    n_personas: int, sessions_per_persona: int, seed: int, stream: str, routine_share: float = ROUTINE_SHARE
) -> tuple:
    """Rows of the three files; sessions still carry the generator's ACTS_KEY annotation."""
    if n_personas < 0 or sessions_per_persona < 0:
        raise ValueError("n_personas and sessions_per_persona must be >= 0")
    characters, routines, sessions = [], [], []
    for i in range(n_personas):
        prng = random.Random(f"adaptcommand-synthetic/{stream}/{seed}/persona/{i}")
        persona = _make_persona(prng, NAMES[i % len(NAMES)] if stream == "pretrain" else None)
        srng = random.Random(f"adaptcommand-synthetic/{stream}/{seed}/sessions/{i}")
        characters.append({"character": persona["character"]})
        routines.append(
            {
                "routines": [
                    {"triggers": _full_triggers(r["triggers"]), "actions": _full_actions(r["actions"])}
                    for r in persona["routines"]
                ]
            }
        )
        sessions.append(
            {
                "sessions": [
                    _make_session(srng, persona, s, routine_share) for s in range(sessions_per_persona)
                ]
            }
        )
    return characters, routines, sessions


def _without_acts(rows: tuple) -> tuple[list[dict], list[dict], list[dict]]:
    characters, routines, sessions = rows
    plain = [
        {"sessions": [{k: v for k, v in s.items() if k != ACTS_KEY} for s in line["sessions"]]}
        for line in sessions
    ]
    return characters, routines, plain


def generate(
    n_personas: int, sessions_per_persona: int, seed: int
) -> tuple[list[dict], list[dict], list[dict]]:
    """Rows of characters.jsonl, routines.jsonl and sessions.jsonl for `n_personas` personas."""
    return _without_acts(_generate(n_personas, sessions_per_persona, seed, "eval"))


def generated_acts(n_personas: int, sessions_per_persona: int, seed: int) -> dict[tuple[str, int], list[str]]:
    """What `generate` meant each assistant turn to do: {(persona_id, session_id): [act per assistant
    message, in order]}, acts from STEP_ACTS ("routine" | "stated" | "other")."""
    _, _, sessions = _generate(n_personas, sessions_per_persona, seed, "eval")
    return {
        (f"persona_{i:03d}", s["session_id"]): s[ACTS_KEY]
        for i, line in enumerate(sessions)
        for s in line["sessions"]
    }


def pretraining_corpus(
    n_personas: int, sessions_per_persona: int, seed: int, routine_share: float = ROUTINE_SHARE
) -> tuple[list[dict], list[dict], list[dict]]:
    """Like `generate`, for OTHER personas (another random stream; names cycle through NAMES): data to
    pretrain a tiny demo base model on users that are never evaluated. `routine_share`: the fraction of
    routine-driven sessions (a lower one weights the generic skill, doing what the user states)."""
    return _without_acts(_generate(n_personas, sessions_per_persona, seed, "pretrain", routine_share))


def write_rows(out_dir: str | Path, characters: list, routines: list, sessions: list) -> dict[str, Path]:
    """Write the three line-aligned files (each atomically) into `out_dir`."""
    out_dir = Path(out_dir)
    rows = dict(zip(RAW_FILES, (characters, routines, sessions), strict=True))
    return {name: write_jsonl_atomic(out_dir / name, data) for name, data in rows.items()}


def write_raw(
    out_dir: str | Path,
    n_personas: int = 200,
    sessions_per_persona: int = 50,
    seed: int = 0,
    *,
    pretraining: bool = False,
    routine_share: float = ROUTINE_SHARE,
) -> dict[str, Path]:
    """Generate (evaluation personas, or the pretraining personas with `routine_share`) and write
    characters.jsonl, routines.jsonl, sessions.jsonl into `out_dir`. Returns name -> path."""
    if pretraining:
        rows = pretraining_corpus(n_personas, sessions_per_persona, seed, routine_share)
    else:
        rows = generate(n_personas, sessions_per_persona, seed)
    return write_rows(out_dir, *rows)
