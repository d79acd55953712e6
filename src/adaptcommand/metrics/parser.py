"""Smart-home actions read out of free text: `extract_actions(text)` turns an assistant (or user) turn
into a set of ``(device, parameter, value)`` triples that are legal under the closed schema
(`adaptcommand.schema.ACTION_SCHEMA`). Word lists live in `adaptcommand.metrics.lexicon`.

Extraction
----------
The text is normalised (lower case, "a/c" -> "ac", "°F"/"℃" spelled out, hyphens between letters or
digits become spaces, "a.m." -> "am"), split into sentences at ``. ! ?`` followed by white space and at
line breaks, and each sentence is cut into word tokens (never substrings: "warm", "alarm" and
"charming" contain no "arm", "back" and "place" contain no "ac"). Clauses are separated by
``, ; and but or while then also plus``.

Device mentions (word or phrase, longest match first):

- tv: tv, television, telly (and, as context only, Netflix, YouTube, HDMI);  ac: ac, a/c, air
  conditioner/conditioning, air con, aircon, climate (control), thermostat, hvac;  lights: light(s),
  lamp(s), lighting, bulb(s);  speaker: speaker(s), sound system, stereo, music, soundbar, playlist;
  security: security (system), alarm (system).
- "light" followed by jazz/music/rain/breeze/... is not the lights; "alarm clock" and "wake(-up)/morning
  alarm" are not security; "security camera(s)" is foreign.
- Devices outside the schema (blinds, curtains, garage, radio, heater, coffee machine, fridge, door,
  window, ceiling fan, ...) are *foreign* mentions: they produce nothing and they block values that
  follow them in the same clause ("the garage radio to 30" sets nothing).

Values and their parameter:

- Numbers are digits or, after a parameter word or before a unit, number words ("fan speed two",
  "twenty two degrees"). Decimals, times ("7 pm", "7:30", "10 minutes", "until 8"), counts ("3
  lamps"), outdoor readings ("5°C outside"), previous values ("from 20 to 24" keeps only 24, "instead
  of 22") and Fahrenheit values ("72°F", "72 F", "72 degrees Fahrenheit") are never settings. "°",
  "°C", "C", "degrees", "Celsius" mark a temperature.
- A parameter word (volume; brightness, dim, dimmed, brighten; temperature, temp; fan speed, fan,
  speed) takes the first number after it within six tokens, stopping at a clause separator, "with",
  another parameter word or an unrelated device ("brightness at 50", "volume is at 20", "fan on 2",
  "temperature to 22"). A device right after the word is bound to it and the search goes on behind it
  ("dim the lights to 30", "set the volume on the speaker to 30"). A parameter word with no number
  after it takes a number directly before it ("75% brightness", "75 brightness", "20 volume");
  "full/max/maximum brightness|volume" is 100.
- Which device a parameter word belongs to, first rule that applies: a device bound right after it
  ("volume on the speaker", "20% brightness on the TV"); a device right before it ("TV volume",
  "speaker volume", "the TV's volume", "alarm volume" -> security.alarm_volume); nothing if the nearest
  device before it in the clause is foreign; "volume" after a security mention in the same clause is
  the alarm volume ("security armed with volume 80"); the nearest preceding device in the sentence that
  has the parameter; the nearest following one in the clause; the one device of that kind that another
  value of the sentence names ("volume 40 and bass boost equalizer" -> speaker); the last such device
  of an earlier sentence; the only device that has the parameter (temperature, fan speed -> ac).
  Otherwise a bare "volume" or "brightness" (TV or speaker/lights?) sets nothing.
- A number with no parameter word is a temperature if it has a temperature unit. Otherwise it needs a
  "%" or a leading to/at/of/on/is/around/about/":" and takes the default parameter of the device the
  clause talks about (bound device after it, else nearest device before it in the sentence, else the
  next one in the clause, else the last device of an earlier sentence): lights -> brightness,
  speaker -> volume, ac -> temperature (no "%"), security -> alarm_volume (with "%", or right after the
  mention as in "the alarm at 75" when above 12, since "alarm at 7" reads as a time); a bare number for
  the TV is ambiguous (volume or brightness) and is dropped.
- Categorical values:
  * input_source: "HDMI 1/2" (also hdmi1, "HDMI port 2", "HDMI one"), "AV", "Netflix", "YouTube".
  * ac.mode vs lights.mode is decided by the value: heat/cool/auto are the AC's, static/dynamic the
    lights'. heat/heating/cool/cooling/auto/automatic are an AC mode before "mode/setting/function"
    ("heat mode", "cooling mode"), after "mode (is|to|:)", after to/on/in/into when the device in
    context is the AC or none ("set to cool", "AC on auto"), "heating"/"cooling" alone when the
    device in context is the AC or none (but not "heating up", "cooling down"), and as a list item
    ("AC 25 degrees and heat", "AC heat and fan level 1"; with no device named, "24 degrees and auto"
    only when the sentence sets another AC value; never the first word: "Cool, thanks").
  * lights.color: warm/warmer/cool/cooler/neutral before white/light/lighting/lamp/tone/colour/color/
    hue/glow/shade ("warm white", "cooler tone", "cool white light"), after a colour word ("colour to
    warm"), or alone when the device in context in the sentence is the lights ("lights to 40% warm").
    "cool" near the lights is a colour, near the AC ("AC to cool", "cooling") a mode; "warm" is never
    an AC or security value.
  * lights.mode: "static", "dynamic" (not "static noise").
  * speaker.equalizer: "bass boost(ed)", "boost the bass", "treble boost", "balanced" before eq/
    equalizer/sound/audio/mode/profile or after "equalizer", or alone near the speaker; after
    "equalizer (set) to" also "bass" / "treble".
  * security.armed: arm/arms/armed/arming -> True, disarm/disarmed/unarmed -> False anywhere. Near a
    security mention: activate/enable/engage/turn on/switch on before it, or (to|is|now|...)
    on/active/enabled/engaged after it -> True; deactivate/disable/disengage/turn off/switch off/shut
    off before it, or off/inactive/disabled after it -> False ("turn off the TV, lights and security",
    "the security system to off" -> False). "not", "never", "don't", "n't" just before the word flip
    it ("not armed" -> False).
- The device in context for a value without a parameter word is the nearest device mentioned before it
  in the sentence, else the next one in the same clause, else (numbers and AC modes only) the last one
  of an earlier sentence: the current device is carried forward through a sentence.

Questions and alternatives: a sentence ending with "?" with no concrete value sets nothing ("What
temperature would you like?", "Which input should I use?"). A question that does name a value is a
proposal and its value is extracted ("Shall I set the lights to 40%?" -> lights.brightness 40),
because the turn commits to that value. If one sentence gives several values for one parameter and it
is a question or the values are joined by "or" ("warm or cool?", "22 or 24 degrees"), that parameter
is dropped; in statements all values are kept (the set may hold two values for one key).

Every triple is checked with `schema.check_action_value`: out-of-range numbers (AC 16-30, fan 0-3,
0-100 otherwise) and non-integers are dropped.

Not supported (nothing is extracted): power on/off ("turn off the lights", "mute"), relative changes
("a bit warmer", "volume up"), fan words (low/medium/high), a bare number for the TV, "HDMI" without
a port number, values that need the previous turn to know the device ("set it to 20" with no device in
the turn), negated requests other than for arming ("don't set it to 22" still gives 22).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adaptcommand.metrics.lexicon import (
    AC_MODE_WORDS,
    APPS,
    ARM_WORDS,
    BIND_BLOCK,
    BIND_PREPS,
    BOOST,
    CELSIUS,
    CLAUSE_SEPS,
    COLOR_NOUNS,
    COLOR_WORDS,
    CUE_PHRASES,
    DEGREES,
    DEVICE_PHRASES,
    EQ_AFTER,
    FAHRENHEIT,
    FOREIGN,
    KIND_PARAMS,
    LEADS,
    LIGHT_MODE_WORDS,
    LIST_END,
    MODE_NOUNS,
    NEGATIONS,
    NOT_ALARM_BEFORE,
    NOT_LIGHT_AFTER,
    NUMERIC_KINDS,
    ONES,
    PERCENT,
    POWER_VERBS,
    STATE_AFTER_FILLERS,
    STATE_BEFORE_FILLERS,
    STATE_OFF_AFTER,
    STATE_OFF_BEFORE,
    STATE_ON_AFTER,
    STATE_ON_BEFORE,
    TENS,
    TIME_BEFORE,
    TIME_UNITS,
    VALUE_FILLERS,
    VERB_PARTICLES,
    WINDOW,
    WINDOW_STOPS,
)
from adaptcommand.schema import check_action_value

Action = tuple[str, str, object]

# ---------------------------------------------------------------------------------------------------
# Normalisation and tokenisation
# ---------------------------------------------------------------------------------------------------

_CHAR_MAP = {
    "\u2103": "°c",
    "\u2109": "°f",
    "\u00ba": "°",
    "\u02da": "°",
    "\u2019": "'",
    "\u2018": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": " - ",
    "\u2014": ", ",
    "\u2026": "...",
    "\u00a0": " ",
}
_TOKEN_RE = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)*|[%°:;,=?!#]")
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+|\s*\n+\s*")


def _normalise(text: str) -> str:
    for src, dst in _CHAR_MAP.items():
        text = text.replace(src, dst)
    text = text.lower()
    text = re.sub(r"\ba\s*/\s*c\b", "ac", text)
    text = re.sub(r"\ba\.c\.", "ac", text)
    text = re.sub(r"\ba\s*/\s*v\b", "av", text)
    text = re.sub(r"\bt\.v\.", "tv", text)
    text = re.sub(r"\b([ap])\.m\.", r"\1m", text)
    text = re.sub(r"\s+-\s+", ", ", text)
    text = re.sub(r"(?<=[a-z0-9])-(?=[a-z0-9])", " ", text)
    text = text.replace("&", " and ").replace("+", " and ")
    return text


def _tokenise(sentence: str) -> list[str]:
    out: list[str] = []
    for tok in _TOKEN_RE.findall(sentence):
        if tok.endswith("'s") and len(tok) > 2:
            out.extend((tok[:-2], "'s"))
        elif tok.endswith("n't") or tok in {"cant", "wont", "isnt", "dont"}:
            out.append("not" if tok not in {"don't", "dont"} else "dont")
        else:
            out.append(tok)
    return out


def _is_question(sentence: str) -> bool:
    return sentence.rstrip(" \t\"')*_]").endswith("?")


# ---------------------------------------------------------------------------------------------------
# Sentence analysis
# ---------------------------------------------------------------------------------------------------


@dataclass
class _Mention:
    start: int
    end: int  # exclusive
    device: str  # a schema device or FOREIGN


@dataclass
class _Number:
    start: int
    end: int  # exclusive, after the unit
    value: int | None  # None: decimal
    unit: str | None  # "pct" | "c" | "f" | None
    word: bool
    time: bool
    previous: bool  # "from 20 (to 24)", "instead of 22"


@dataclass
class _Cue:
    start: int
    end: int
    kind: str


class _Sentence:
    def __init__(self, tokens: list[str], carried: list[str]) -> None:
        self.tok = tokens
        self.n = len(tokens)
        self.carried = carried  # devices (and FOREIGN) mentioned in earlier sentences, in order
        self.found: list[tuple[int, str, str, object]] = []  # (position, device, parameter, value)
        self.consumed: set[int] = set()
        self.pending_modes: list[tuple[int, str]] = []
        self.clause = self._clauses()
        self.mentions = self._find_mentions()
        self.mention_at = {m.start: m for m in self.mentions}
        self.in_mention = {i for m in self.mentions for i in range(m.start, m.end)}
        self.cues = self._find_cues()
        self.cue_tokens = {i for c in self.cues for i in range(c.start, c.end)}

    # -- helpers ------------------------------------------------------------------------------------

    def _t(self, i: int) -> str:
        return self.tok[i] if 0 <= i < self.n else ""

    def _clauses(self) -> list[int]:
        ids, cid = [], 0
        for t in self.tok:
            if t in CLAUSE_SEPS:
                cid += 1
                ids.append(cid)
                cid += 1
            else:
                ids.append(cid)
        return ids

    def _match(self, table: dict[tuple[str, ...], str], i: int) -> tuple[int, str] | None:
        for length in (3, 2, 1):
            key = tuple(self.tok[i : i + length])
            if len(key) == length and key in table:
                return length, table[key]
        return None

    def _find_mentions(self) -> list[_Mention]:
        out: list[_Mention] = []
        i = 0
        while i < self.n:
            hit = self._match(DEVICE_PHRASES, i)
            if hit is None:
                i += 1
                continue
            length, device = hit
            word = self.tok[i]
            if length == 1 and word == "light" and self._t(i + 1) in NOT_LIGHT_AFTER:
                i += 1
                continue
            if word in {"alarm", "alarms"} and (
                self._t(i + 1) == "clock" or self._t(i - 1) in NOT_ALARM_BEFORE or self._t(i - 1) == "up"
            ):
                i += length
                continue
            out.append(_Mention(i, i + length, device))
            i += length
        return out

    def _find_cues(self) -> list[_Cue]:
        out: list[_Cue] = []
        i = 0
        while i < self.n:
            if i in self.in_mention:
                i += 1
                continue
            hit = self._match(CUE_PHRASES, i)
            if hit is None or any(j in self.in_mention for j in range(i, i + hit[0])):
                i += 1
                continue
            length, kind = hit
            out.append(_Cue(i, i + length, kind))
            i += length
        return out

    def _prev_mention(self, i: int, same_clause: bool = False) -> _Mention | None:
        best = None
        for m in self.mentions:
            if m.end <= i and (not same_clause or self.clause[m.start] == self.clause[min(i, self.n - 1)]):
                best = m
        return best

    def _next_mention_in_clause(self, i: int) -> _Mention | None:
        if i >= self.n:
            return None
        for m in self.mentions:
            if m.start >= i and self.clause[m.start] == self.clause[i]:
                return m
        return None

    def _bound_after(self, j: int) -> _Mention | None:
        """A device tied to a value or parameter word by "of/on/for/in [the] [room words] DEVICE"."""
        if self._t(j) not in BIND_PREPS:
            return None
        k = j + 1
        for _ in range(4):
            if k in self.mention_at:
                return self.mention_at[k]
            t = self._t(k)
            if not t.isalpha() or t in CLAUSE_SEPS or t in BIND_BLOCK or k in self.cue_tokens:
                return None
            k += 1
        return None

    def _adjacent_before(self, i: int) -> _Mention | None:
        for m in self.mentions:
            if m.end == i or (m.end == i - 1 and self.tok[m.end] == "'s"):
                return m
        return None

    def _context_device(self, i: int, carry: bool = False) -> str | None:
        m = self._prev_mention(i) or self._next_mention_in_clause(i)
        if m is not None:
            return m.device
        if carry and self.carried:
            return self.carried[-1]
        return None

    def _foreign_before(self, i: int) -> bool:
        m = self._prev_mention(i, same_clause=True)
        return m is not None and m.device == FOREIGN

    def _negated(self, i: int) -> bool:
        return any(self._t(k) in NEGATIONS for k in (i - 1, i - 2))

    def _add(self, pos: int, device: str, parameter: str, value: object) -> None:
        self.found.append((pos, device, parameter, value))

    # -- numbers ------------------------------------------------------------------------------------

    def _word_number(self, i: int) -> tuple[int, int] | None:
        t = self._t(i)
        if t in ONES:
            if self._t(i + 1) == "hundred":
                return ONES[t] * 100, i + 2
            return ONES[t], i + 1
        if t in TENS:
            if self._t(i + 1) in ONES and 0 < ONES[self._t(i + 1)] < 10:
                return TENS[t] + ONES[self._t(i + 1)], i + 2
            return TENS[t], i + 1
        if t == "hundred" and self._t(i - 1) not in ONES:
            return 100, i + 1
        return None

    def _unit(self, j: int) -> tuple[str | None, int, bool]:
        """(unit, end, is_time) of the tokens right after a number ending at j."""
        t = self._t(j)
        if t in PERCENT:
            return "pct", j + 1, False
        if t == "per" and self._t(j + 1) == "cent":
            return "pct", j + 2, False
        if t in DEGREES:
            nxt = self._t(j + 1)
            if nxt in CELSIUS:
                return "c", j + 2, False
            if nxt in FAHRENHEIT:
                return "f", j + 2, False
            return "c", j + 1, False
        if t in CELSIUS:
            return "c", j + 1, False
        if t in FAHRENHEIT:
            return "f", j + 1, False
        if t in TIME_UNITS or (t == ":" and self._t(j + 1).isdigit()):
            return None, j, True
        k = j
        while self._t(k) in {"in", "this", "the", "at", "tomorrow", "tonight"} and k < j + 3:
            if self._t(k) in {"tomorrow", "tonight"}:
                return None, j, True
            k += 1
        if k > j and self._t(k) in {"morning", "evening", "afternoon", "night"}:
            return None, j, True
        return None, j, False

    def _find_numbers(self) -> dict[int, _Number]:
        out: dict[int, _Number] = {}
        i = 0
        while i < self.n:
            if i in self.consumed or i in self.in_mention:
                i += 1
                continue
            t = self.tok[i]
            if t[0].isdigit():
                value = int(t) if t.isdigit() else None
                end, word = i + 1, False
            else:
                parsed = self._word_number(i)
                if parsed is None:
                    i += 1
                    continue
                value, end = parsed
                word = True
            unit, uend, time = self._unit(end)
            prev = self._t(i - 1)
            if prev == ":" and self._t(i - 2).isdigit():
                time = True
            if prev in TIME_BEFORE or self._t(uend) in {"outside", "outdoors"}:
                time = True
            if unit is None and end in self.mention_at:  # a count: "3 lamps", "both 2 speakers"
                time = True
            previous = prev == "from" or (prev == "of" and self._t(i - 2) == "instead")
            out[i] = _Number(i, uend, value, unit, word, time, previous)
            i = uend if uend > i else i + 1
        # "22 or 24 degrees": the first number shares the unit of the second
        for num in out.values():
            other = out.get(num.end + 1)
            if num.unit is None and self._t(num.end) == "or" and other is not None and other.unit:
                num.unit = other.unit
        return out

    def _accepts(self, kind: str, num: _Number) -> bool:
        if num.unit == "c":
            return kind == "temperature"
        if num.unit == "pct":
            return kind in {"volume", "brightness"}
        return True

    def _scan_forward(self, cue: _Cue, numbers: dict[int, _Number], taken: set[int]):
        """First number after a parameter word: (number | None, device bound on the way | None)."""
        j, steps, bound, gap = cue.end, 0, None, []
        while j < self.n and steps < WINDOW:
            if j in self.mention_at:
                m = self.mention_at[j]
                if bound is None and len(gap) <= 4 and not (set(gap) & BIND_BLOCK):
                    bound, j, steps, gap = m, m.end, 0, []
                    continue
                return None, bound
            if j in numbers:
                num = numbers[j]
                if num.previous:
                    j = num.end
                    continue
                if j in taken or num.time or num.value is None:
                    return None, bound
                if num.unit == "f" or self._accepts(cue.kind, num):
                    return num, bound
                return None, bound
            t = self.tok[j]
            if j in self.cue_tokens or t in WINDOW_STOPS:
                return None, bound
            gap.append(t)
            j += 1
            steps += 1
        return None, bound

    def _resolve_numeric(
        self, kind: str, anchor: int, anchor_end: int, value_end: int, bound: _Mention | None
    ) -> tuple[str, str] | None:
        params = KIND_PARAMS[kind]
        for m in (bound, self._bound_after(value_end), self._bound_after(anchor_end)):
            if m is None:
                continue
            if m.device == FOREIGN:
                return None
            if m.device in params:
                return m.device, params[m.device]
        adj = self._adjacent_before(anchor)
        if adj is not None:
            if adj.device == FOREIGN:
                return None
            if kind == "volume" and adj.device == "security":
                return "security", "alarm_volume"
            if adj.device in params:
                return adj.device, params[adj.device]
        if self._foreign_before(anchor):
            return None
        near = self._prev_mention(anchor, same_clause=True)
        if kind == "volume" and near is not None and near.device == "security":
            return "security", "alarm_volume"  # "security armed with volume 80"
        for m in reversed(self.mentions):
            if m.end <= anchor and m.device in params:
                return m.device, params[m.device]
        m = self._next_mention_in_clause(anchor_end)
        if m is not None and m.device in params:
            return m.device, params[m.device]
        implied = {f[1] for f in self.found} & params.keys()  # "volume 40 and bass boost equalizer"
        if len(implied) == 1:
            device = implied.pop()
            return device, params[device]
        for device in reversed(self.carried):
            if device in params:
                return device, params[device]
        if len(params) == 1:
            device = next(iter(params))
            return device, params[device]
        return None

    def _numbers(self) -> None:
        numbers = self._find_numbers()
        taken: set[int] = set()
        satisfied: set[int] = set()
        numeric_cues = [c for c in self.cues if c.kind in NUMERIC_KINDS]
        ends = {num.end: num for num in numbers.values()}

        def assign(cue: _Cue, num: _Number | None, bound: _Mention | None, value: int | None = None) -> None:
            satisfied.add(cue.start)
            if num is not None:
                taken.add(num.start)
                if num.unit == "f":
                    return
                value = num.value
            end = num.end if num is not None else cue.end
            target = self._resolve_numeric(cue.kind, cue.start, cue.end, end, bound)
            if target is not None and value is not None:
                pos = cue.start if num is None else min(cue.start, num.start)
                self._add(pos, target[0], target[1], value)

        # 1. parameter word followed by its number
        for cue in numeric_cues:
            num, bound = self._scan_forward(cue, numbers, taken)
            if num is not None:
                assign(cue, num, bound)
        # 2. number directly before its parameter word ("75% brightness"), "full brightness"
        for cue in numeric_cues:
            if cue.start in satisfied:
                continue
            k = cue.start
            if self._t(k - 1) in {"of", "in", "for", "on"} and (k - 1) in ends:
                k -= 1
            num = ends.get(k)
            if (
                num is not None
                and num.start not in taken
                and not num.time
                and not num.previous
                and num.value is not None
                and (num.unit == "f" or self._accepts(cue.kind, num))
            ):
                assign(cue, num, None)
            elif cue.kind in {"volume", "brightness"} and self._t(cue.start - 1) in {
                "full",
                "max",
                "maximum",
            }:
                assign(cue, None, None, 100)
        # 3. numbers without a parameter word
        for num in numbers.values():
            if num.start in taken or num.time or num.previous or num.value is None or num.unit == "f":
                continue
            if num.word and num.unit is None:
                continue
            if num.unit == "c":
                target = self._resolve_numeric("temperature", num.start, num.end, num.end, None)
                if target is not None:
                    self._add(num.start, target[0], target[1], num.value)
                continue
            m = self._bound_after(num.end)
            explicit = m is not None and self._t(num.end) in {"for", "on"}
            alternative = self._t(num.start - 1) == "or" and (num.start - 1) in ends  # "22 or 23"
            if num.unit != "pct" and self._t(num.start - 1) not in LEADS and not (explicit or alternative):
                continue
            if m is None:
                m = self._prev_mention(num.start) or self._next_mention_in_clause(num.start)
            device = m.device if m is not None else (self.carried[-1] if self.carried else None)
            if device == "lights":
                self._add(num.start, "lights", "brightness", num.value)
            elif device == "speaker":
                self._add(num.start, "speaker", "volume", num.value)
            elif device == "ac" and num.unit is None:
                self._add(num.start, "ac", "temperature", num.value)
            elif device == "security" and (num.unit == "pct" or self._alarm_value(m, num)):
                self._add(num.start, "security", "alarm_volume", num.value)

    def _alarm_value(self, m: _Mention | None, num: _Number) -> bool:
        """'the alarm at 75': a number right after the security mention (not 1-12, which reads as a time)."""
        return (
            m is not None
            and m.end == num.start - 1
            and self._t(m.end) in {"at", "to"}
            and num.value is not None
            and num.value > 12
        )

    # -- categorical values -------------------------------------------------------------------------

    def _after_cue(self, i: int, kind: str) -> bool:
        """Is token i the value of a `kind` parameter word a few filler tokens before it?"""
        k = i - 1
        for _ in range(4):
            if k < 0:
                return False
            for c in self.cues:
                if c.end == k + 1 and c.kind == kind:
                    return True
            if self.tok[k] not in VALUE_FILLERS:
                return False
            k -= 1
        return False

    def _inputs(self) -> None:
        for i, t in enumerate(self.tok):
            if t == "hdmi":
                j = i + 1
                while self._t(j) in {"port", "input", "source", "number", "no"}:
                    j += 1
                port = {"1": "HDMI1", "one": "HDMI1", "2": "HDMI2", "two": "HDMI2"}.get(self._t(j))
                if self._t(j).isdigit() or self._t(j) in {"one", "two", "three", "four"}:
                    self.consumed.add(j)
                if port is not None and not self._foreign_before(i):
                    self._add(i, "tv", "input_source", port)
            elif t == "you" and self._t(i + 1) == "tube" and not self._foreign_before(i):
                self._add(i, "tv", "input_source", "YouTube")
            elif t in APPS and not self._foreign_before(i):
                self._add(i, "tv", "input_source", APPS[t])

    def _categorical(self) -> None:
        for i, t in enumerate(self.tok):
            if i in self.in_mention or i in self.cue_tokens:
                continue
            nxt, prev = self._t(i + 1), self._t(i - 1)
            if self._foreign_before(i):
                continue
            # lights mode
            if t in LIGHT_MODE_WORDS and nxt not in {"noise", "electricity", "shock"}:
                self._add(i, "lights", "mode", LIGHT_MODE_WORDS[t])
                continue
            # equalizer
            if t in {"bass", "treble"}:
                value = "bass boost" if t == "bass" else "treble boost"
                if nxt in BOOST or prev in BOOST or (prev == "the" and self._t(i - 2) in BOOST):
                    self._add(i, "speaker", "equalizer", value)
                elif self._after_cue(i, "equalizer"):
                    self._add(i, "speaker", "equalizer", value)
                continue
            if t in {"balanced", "balance"}:
                if (
                    nxt in EQ_AFTER
                    or self._after_cue(i, "equalizer")
                    or (t == "balanced" and self._context_device(i) == "speaker")
                ):
                    self._add(i, "speaker", "equalizer", "balanced")
                continue
            if t in COLOR_WORDS or t in AC_MODE_WORDS:
                self._color_or_mode(i, t, prev, nxt)

    def _color_or_mode(self, i: int, t: str, prev: str, nxt: str) -> None:
        is_color = t in COLOR_WORDS
        is_mode = t in AC_MODE_WORDS
        if nxt in {"or", "and", ","} and (
            (is_color and self._t(i + 2) in COLOR_WORDS and self._t(i + 3) in COLOR_NOUNS)
            or (is_mode and self._t(i + 2) in AC_MODE_WORDS and self._t(i + 3) in MODE_NOUNS)
        ):
            nxt = self._t(i + 3)  # "warm or cool lighting", "heat or cool mode": share the noun
        if is_color and nxt in COLOR_NOUNS:
            self._add(i, "lights", "color", COLOR_WORDS[t])
            return
        if is_mode and nxt in MODE_NOUNS:
            self._add(i, "ac", "mode", AC_MODE_WORDS[t])
            return
        if is_mode and self._after_cue(i, "mode"):
            self._add(i, "ac", "mode", AC_MODE_WORDS[t])
            return
        if is_color and self._after_cue(i, "color"):
            self._add(i, "lights", "color", COLOR_WORDS[t])
            return
        ctx = self._context_device(i)
        if is_color and ctx == "lights" and nxt not in VERB_PARTICLES:
            self._add(i, "lights", "color", COLOR_WORDS[t])
            return
        if not is_mode:
            return
        ctx_carry = self._context_device(i, carry=True)
        if ctx_carry not in {"ac", None}:
            return
        if t in {"heating", "cooling"} and nxt not in VERB_PARTICLES:
            self._add(i, "ac", "mode", AC_MODE_WORDS[t])
        elif prev in {"to", "on", "in", "into"} and nxt not in VERB_PARTICLES:
            self._add(i, "ac", "mode", AC_MODE_WORDS[t])
        elif nxt in LIST_END and (prev in LIST_END or (i - 1) in self.in_mention) and i > 0:
            # a list item near the AC: "AC 25 degrees and heat", "AC heat and fan level 1", and with no
            # device named, "24 degrees and auto" (kept only if the sentence sets another AC value)
            if ctx == "ac":
                self._add(i, "ac", "mode", AC_MODE_WORDS[t])
            elif ctx is None:
                self.pending_modes.append((i, AC_MODE_WORDS[t]))

    def _security(self) -> None:
        for i, t in enumerate(self.tok):
            if t in ARM_WORDS:
                value = ARM_WORDS[t]
                self._add(i, "security", "armed", (not value) if self._negated(i) else value)
        for m in self.mentions:
            if m.device != "security":
                continue
            state = self._state_after(m)
            if state is None:
                state = self._state_before(m)
            if state is not None:
                self._add(m.start, "security", "armed", state)

    def _state_after(self, m: _Mention) -> bool | None:
        j, negated = m.end, False
        for _ in range(5):
            t = self._t(j)
            if t in STATE_ON_AFTER or t in STATE_OFF_AFTER:
                if t in {"on", "off"} and (self._t(j + 1).isdigit() or (j + 1) in self.cue_tokens):
                    return None
                value = t in STATE_ON_AFTER
                return (not value) if negated else value
            if t in NEGATIONS:
                negated = True
            elif t not in STATE_AFTER_FILLERS:
                return None
            j += 1
        return None

    def _state_before(self, m: _Mention) -> bool | None:
        k = m.start - 1
        for _ in range(10):
            if k < 0:
                return None
            t = self.tok[k]
            value: bool | None = None
            if t in STATE_ON_BEFORE:
                value = True
            elif t in STATE_OFF_BEFORE:
                value = False
            elif t in {"on", "off"} and self._t(k - 1) in POWER_VERBS:
                value = t == "on"
                k -= 1
            if value is not None:
                return (not value) if self._negated(k) else value
            if k in self.in_mention or t in STATE_BEFORE_FILLERS:
                k -= 1
                continue
            return None
        return None

    # -- all ----------------------------------------------------------------------------------------

    def extract(self, question: bool) -> list[tuple[int, str, str, object]]:
        self._inputs()
        self._categorical()
        self._security()
        self._numbers()
        if any(f[1] == "ac" for f in self.found):
            for pos, value in self.pending_modes:
                self._add(pos, "ac", "mode", value)
        legal = [f for f in self.found if check_action_value(f[1], f[2], f[3]) is None]
        by_key: dict[tuple[str, str], list[tuple[int, object]]] = {}
        for pos, device, parameter, value in legal:
            by_key.setdefault((device, parameter), []).append((pos, value))
        out = []
        for (device, parameter), items in by_key.items():
            values = {v for _, v in items}
            if len(values) > 1:
                lo, hi = min(p for p, _ in items), max(p for p, _ in items)
                if question or "or" in self.tok[lo:hi]:
                    continue
            out.extend((pos, device, parameter, value) for pos, value in items)
        return out


# ---------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------


def extract_actions(text: str) -> set[Action]:
    """The (device, parameter, value) settings that `text` sets, confirms or proposes (module doc)."""
    if not text:
        return set()
    actions: set[Action] = set()
    carried: list[str] = []
    for raw in _SENTENCE_SPLIT_RE.split(_normalise(text)):
        if not raw.strip():
            continue
        sentence = _Sentence(_tokenise(raw), carried)
        for _, device, parameter, value in sentence.extract(_is_question(raw)):
            actions.add((device, parameter, value))
        carried = carried + [m.device for m in sentence.mentions]
    return actions
