"""Action extraction against the closed schema, and per-turn action scores."""

from __future__ import annotations

import math

import pytest

from adaptcommand.metrics.actions import (
    ACTION_COUNT_KEYS,
    ACTION_METRIC_KEYS,
    action_counts,
    action_metrics,
)
from adaptcommand.metrics.parser import extract_actions
from adaptcommand.schema import check_action_value

# (text, expected set of (device, parameter, value))
CASES: list[tuple[str, set]] = [
    # --- lights brightness phrasings
    ("I've set the living room lights to 75% brightness.", {("lights", "brightness", 75)}),
    ("Lights brightness at 50.", {("lights", "brightness", 50)}),
    ("Could you set the lights to 75 brightness?", {("lights", "brightness", 75)}),
    ("Dim the lights to 30.", {("lights", "brightness", 30)}),
    ("The lights are dimmed to 30% now.", {("lights", "brightness", 30)}),
    ("Lights 50 percent, please.", {("lights", "brightness", 50)}),
    ("I set the lights back to 50%.", {("lights", "brightness", 50)}),
    ("Turn the lamp up to full brightness.", {("lights", "brightness", 100)}),
    # --- ac: fan speed, temperature, mode
    ("Fan speed 3.", {("ac", "fan_speed", 3)}),
    ("I've put the AC fan speed to 1.", {("ac", "fan_speed", 1)}),
    ("Set the AC fan on 2.", {("ac", "fan_speed", 2)}),
    ("Turn the fan speed down to one.", {("ac", "fan_speed", 1)}),
    ("AC fan speed two, please.", {("ac", "fan_speed", 2)}),
    ("Set the AC to 16 and the fan to 0.", {("ac", "temperature", 16), ("ac", "fan_speed", 0)}),
    ("The AC temperature at 22.", {("ac", "temperature", 22)}),
    ("Keep it at 22 degrees.", {("ac", "temperature", 22)}),
    ("Set the AC to 24°C.", {("ac", "temperature", 24)}),
    ("Set the AC to 24 ℃.", {("ac", "temperature", 24)}),
    ("I'd like the A/C at 24.", {("ac", "temperature", 24)}),
    ("The thermostat is at 21.", {("ac", "temperature", 21)}),
    ("Set the temperature to twenty two degrees.", {("ac", "temperature", 22)}),
    ("Raise the temperature from 20 to 24 degrees.", {("ac", "temperature", 24)}),
    ("Switching the AC to heat mode.", {("ac", "mode", "heat")}),
    ("Set to cool.", {("ac", "mode", "cool")}),
    ("Switch the AC to cooling mode.", {("ac", "mode", "cool")}),
    ("Auto mode, please.", {("ac", "mode", "auto")}),
    ("The AC mode is set to heat.", {("ac", "mode", "heat")}),
    ("The AC is set to auto.", {("ac", "mode", "auto")}),
    (
        "Setting the AC to heat mode at 26 degrees with fan speed 3.",
        {("ac", "mode", "heat"), ("ac", "temperature", 26), ("ac", "fan_speed", 3)},
    ),
    (
        "AC is now set to heat mode at 18 degrees with fan speed 1.",
        {("ac", "mode", "heat"), ("ac", "temperature", 18), ("ac", "fan_speed", 1)},
    ),
    ("temperature at 22, and fan speed to 2", {("ac", "temperature", 22), ("ac", "fan_speed", 2)}),
    (
        "Sure, heating to 25°C with the fan on 1.",
        {("ac", "mode", "heat"), ("ac", "temperature", 25), ("ac", "fan_speed", 1)},
    ),
    (
        "Let’s get the AC going — cool mode, 22 degrees, fan at 2.",
        {("ac", "mode", "cool"), ("ac", "temperature", 22), ("ac", "fan_speed", 2)},
    ),
    # --- lights colour and mode
    ("Switch the lights to a warmer tone.", {("lights", "color", "warm")}),
    ("Warm white, please.", {("lights", "color", "warm")}),
    ("Set the lights to a warm colour.", {("lights", "color", "warm")}),
    ("Set the lights to a warm color.", {("lights", "color", "warm")}),
    ("Cool white light for reading.", {("lights", "color", "cool")}),
    ("Set the lights to cool.", {("lights", "color", "cool")}),
    ("Change the colour to neutral.", {("lights", "color", "neutral")}),
    ("Dynamic lighting would be nice.", {("lights", "mode", "dynamic")}),
    ("Put the lights in dynamic mode.", {("lights", "mode", "dynamic")}),
    ("Keep the lights static.", {("lights", "mode", "static")}),
    (
        "The lights are now at 60% brightness with a warm white color in dynamic mode.",
        {("lights", "brightness", 60), ("lights", "color", "warm"), ("lights", "mode", "dynamic")},
    ),
    (
        "Lights: 40%, warm, static.",
        {("lights", "brightness", 40), ("lights", "color", "warm"), ("lights", "mode", "static")},
    ),
    (
        "Could you set the lights to 50 brightness, warm colour?",
        {("lights", "brightness", 50), ("lights", "color", "warm")},
    ),
    # --- speaker
    ("Speaker volume 35.", {("speaker", "volume", 35)}),
    ("Set the volume on the speaker to 30.", {("speaker", "volume", 30)}),
    ("Put the music on bass boost.", {("speaker", "equalizer", "bass boost")}),
    ("A balanced equalizer for the speaker.", {("speaker", "equalizer", "balanced")}),
    ("Treble boost on the speakers.", {("speaker", "equalizer", "treble boost")}),
    ("I've set the equalizer to treble.", {("speaker", "equalizer", "treble boost")}),
    (
        "Boosting the bass on the speaker and setting the volume to 50.",
        {("speaker", "equalizer", "bass boost"), ("speaker", "volume", 50)},
    ),
    (
        "Setting the speaker to 35 with a balanced equalizer.",
        {("speaker", "volume", 35), ("speaker", "equalizer", "balanced")},
    ),
    # --- tv
    ("Switch the TV to HDMI 2.", {("tv", "input_source", "HDMI2")}),
    ("TV input HDMI1, please.", {("tv", "input_source", "HDMI1")}),
    ("Put the TV on HDMI-2.", {("tv", "input_source", "HDMI2")}),
    ("Let's watch Netflix.", {("tv", "input_source", "Netflix")}),
    ("Open YouTube on the television.", {("tv", "input_source", "YouTube")}),
    ("Switching the TV to AV input.", {("tv", "input_source", "AV")}),
    ("Put on Netflix, volume is at 20.", {("tv", "input_source", "Netflix"), ("tv", "volume", 20)}),
    ("The TV is on and the volume is at 20.", {("tv", "volume", 20)}),
    ("Lower the TV to 15 volume.", {("tv", "volume", 15)}),
    ("Set the TV brightness to 80.", {("tv", "brightness", 80)}),
    (
        "Please put the TV on HDMI1 at 30% brightness and volume 12.",
        {("tv", "input_source", "HDMI1"), ("tv", "brightness", 30), ("tv", "volume", 12)},
    ),
    # --- security
    ("Arm the security system.", {("security", "armed", True)}),
    ("Security armed.", {("security", "armed", True)}),
    ("Activate the alarm, please.", {("security", "armed", True)}),
    ("Keep the alarm on tonight.", {("security", "armed", True)}),
    ("Disarm it.", {("security", "armed", False)}),
    ("Turn off security.", {("security", "armed", False)}),
    ("Deactivate the alarm system.", {("security", "armed", False)}),
    ("The security system is not armed.", {("security", "armed", False)}),
    ("Turn off the TV, lights and security.", {("security", "armed", False)}),
    ("Alarm volume 80.", {("security", "alarm_volume", 80)}),
    (
        "I've armed the security system and set the alarm volume to 70.",
        {("security", "armed", True), ("security", "alarm_volume", 70)},
    ),
    # --- several devices in one sentence, volume attached to the right device
    (
        "Setting the AC to heat mode at 26 degrees with fan speed 3 and the lights to 40% warm.",
        {
            ("ac", "mode", "heat"),
            ("ac", "temperature", 26),
            ("ac", "fan_speed", 3),
            ("lights", "brightness", 40),
            ("lights", "color", "warm"),
        },
    ),
    ("TV volume to 20 and speaker volume 35.", {("tv", "volume", 20), ("speaker", "volume", 35)}),
    ("Volume to 20 on the TV, 30 on the speaker.", {("tv", "volume", 20), ("speaker", "volume", 30)}),
    ("Turn on the TV and set the volume on the speaker to 30.", {("speaker", "volume", 30)}),
    (
        "Set the TV brightness to 80 and the lights to 20.",
        {("tv", "brightness", 80), ("lights", "brightness", 20)},
    ),
    (
        "Lights at 40%, speaker at 30 with bass boost.",
        {("lights", "brightness", 40), ("speaker", "volume", 30), ("speaker", "equalizer", "bass boost")},
    ),
    (
        "Hey, can you set the TV volume to 20, switch it to Netflix, and bring the brightness down to 40?",
        {("tv", "volume", 20), ("tv", "input_source", "Netflix"), ("tv", "brightness", 40)},
    ),
    # a value named for one device tells which device a bare parameter belongs to
    (
        "I would like volume 40 and treble boost equalizer, please.",
        {("speaker", "volume", 40), ("speaker", "equalizer", "treble boost")},
    ),
    ("24 degrees and auto, please.", {("ac", "temperature", 24), ("ac", "mode", "auto")}),
    (
        "Done: AC 25 degrees and heat; TV volume 10.",
        {("ac", "temperature", 25), ("ac", "mode", "heat"), ("tv", "volume", 10)},
    ),
    ("Volume: 20 on the TV.", {("tv", "volume", 20)}),
    ("The alarm is set to 60% volume.", {("security", "alarm_volume", 60)}),
    (
        "Arming the alarm system now with the alarm at 35.",
        {("security", "armed", True), ("security", "alarm_volume", 35)},
    ),
    ("Set the security system to off.", {("security", "armed", False)}),
    (
        "Got it—AC on cool at 24, fan at 1.",
        {("ac", "mode", "cool"), ("ac", "temperature", 24), ("ac", "fan_speed", 1)},
    ),
    (
        "Of course! I'll set the AC to heat mode at 22°C with a low fan speed, and dim the lights to a "
        "warm 40%. Would you like some music as well?",
        {
            ("ac", "mode", "heat"),
            ("ac", "temperature", 22),
            ("lights", "brightness", 40),
            ("lights", "color", "warm"),
        },
    ),
    (
        "Everything's ready: the AC is cooling the room to 24°C on fan speed 2, "
        "lights are at 30% with a warm glow, and the TV is on Netflix with volume at 15.",
        {
            ("ac", "mode", "cool"),
            ("ac", "temperature", 24),
            ("ac", "fan_speed", 2),
            ("lights", "brightness", 30),
            ("lights", "color", "warm"),
            ("tv", "input_source", "Netflix"),
            ("tv", "volume", 15),
        },
    ),
    # the current device is carried into the next sentence
    ("I've turned the TV on. Volume at 20.", {("tv", "volume", 20)}),
    (
        "Set the lights to 40%. Volume at 30 on the speaker.",
        {("lights", "brightness", 40), ("speaker", "volume", 30)},
    ),
    (
        "Of course! The AC is now in heat mode at 24°C and the fan speed is set to 2. "
        "The lights are dimmed to 30% with a warm tone.",
        {
            ("ac", "mode", "heat"),
            ("ac", "temperature", 24),
            ("ac", "fan_speed", 2),
            ("lights", "brightness", 30),
            ("lights", "color", "warm"),
        },
    ),
    # --- the reference study's substring accidents
    ("Keep the lights a warm colour.", {("lights", "color", "warm")}),
    ("It's freezing tonight, can you warm the place up?", set()),
    ("Welcome back! I've set the lights to 40%.", {("lights", "brightness", 40)}),
    ("I'll be right back; let me put everything in place.", set()),
    ("The charming old lamp is lovely.", set()),
    ("Your alarm is set for 6:30.", set()),
    # --- questions without a value set nothing; a proposed value is extracted
    ("What temperature would you like?", set()),
    ("Which input should I use?", set()),
    ("Would you like me to turn on the TV?", set()),
    ("Shall I set the lights to 40%?", {("lights", "brightness", 40)}),
    ("Should I arm the security system?", {("security", "armed", True)}),
    ("Would you like warm or cool lighting?", set()),
    ("Would you like it at 22 or 24 degrees?", set()),
    ("You're welcome, enjoy your evening.", set()),
    # --- outside the schema
    ("Set it to 72°F.", set()),
    ("Set the thermostat to 72 degrees Fahrenheit.", set()),
    ("Set the AC to 35 degrees.", set()),
    ("Set the AC to 14 degrees.", set()),
    ("Fan speed 5.", set()),
    ("The lights are at 120%.", set()),
    ("Turn the lights on at 7 pm.", set()),
    ("Play some jazz on the garage radio at volume 30.", set()),
    ("Open the blinds to 50%.", set()),
    ("Start the coffee machine at 7.", set()),
    ("Set the blinds to 50% and fan speed to 2.", {("ac", "fan_speed", 2)}),
    ("It's 32°C outside, so I've set the AC to 22.", {("ac", "temperature", 22)}),
    ("Turn off the lights.", set()),
    ("Cool, thanks! Stay warm.", set()),
    ("You have 2 lights on. I've turned on 3 lamps at 40%.", {("lights", "brightness", 40)}),
    ("Do you want me to set the AC to 22 or 23?", set()),
    ("Temperature's at 22 degrees, but it feels like 18 outside.", {("ac", "temperature", 22)}),
    ("It's a warm evening and 5°C outside.", set()),
    ("Set the speaker to 40 on the garage radio.", set()),
    ("Brightness at 50.", set()),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_extract_actions(text: str, expected: set) -> None:
    assert extract_actions(text) == expected


def test_extracted_values_are_schema_legal_and_typed() -> None:
    for text, _ in CASES:
        for device, parameter, value in extract_actions(text):
            assert check_action_value(device, parameter, value) is None
    (armed,) = extract_actions("Arm the security system.")
    assert armed[2] is True


def test_true_and_false_are_different_actions() -> None:
    on, off = extract_actions("Arm the alarm."), extract_actions("Disarm the alarm.")
    assert on != off
    counts = action_counts(on, off, tolerance=0)
    assert counts["param_tp"] == 0 and counts["categorical_correct"] == 0 and counts["device_tp"] == 1


def test_empty_text() -> None:
    assert extract_actions("") == set()


# --- scoring ----------------------------------------------------------------------------------------


def test_counts_keys_and_exact_match() -> None:
    pred = {("ac", "temperature", 22), ("lights", "color", "warm")}
    counts = action_counts(pred, set(pred), tolerance=1)
    assert tuple(counts) == ACTION_COUNT_KEYS
    assert counts["device_tp"] == 2 and counts["device_fp"] == 0 and counts["device_fn"] == 0
    assert counts["param_tp"] == 2 and counts["param_fp"] == 0 and counts["param_fn"] == 0
    assert counts["numeric_n"] == 1 and counts["numeric_exact"] == 1 and counts["numeric_abs_err"] == 0
    assert counts["categorical_n"] == 1 and counts["categorical_correct"] == 1


def test_numeric_tolerance_vs_exact_and_mae() -> None:
    pred = {("ac", "temperature", 23), ("lights", "brightness", 50)}
    ref = {("ac", "temperature", 22), ("lights", "brightness", 40)}
    counts = action_counts(pred, ref, tolerance=1)
    assert counts["numeric_n"] == 2
    assert counts["numeric_exact"] == 0
    assert counts["numeric_within_tol"] == 1
    assert counts["numeric_abs_err"] == 11
    assert counts["param_tp"] == 0 and counts["param_fp"] == 2 and counts["param_fn"] == 2
    assert counts["device_tp"] == 2
    m = action_metrics([counts])
    assert m["numeric_exact_rate"] == 0.0
    assert m["numeric_within_tol_rate"] == 0.5
    assert m["numeric_mae"] == pytest.approx(5.5)
    assert m["param_precision"] == 0.0 and m["param_recall"] == 0.0 and m["param_f1"] == 0.0
    assert m["device_f1"] == 1.0
    assert math.isnan(m["categorical_accuracy"])


def test_counts_accept_triples_read_back_from_json() -> None:
    counts = action_counts([["security", "armed", True]], {("security", "armed", True)}, tolerance=0)
    assert counts["param_tp"] == 1 and counts["categorical_correct"] == 1


def test_repeated_key_pairs_closest_values() -> None:
    pred = {("lights", "brightness", 40), ("lights", "brightness", 80)}
    ref = {("lights", "brightness", 78)}
    counts = action_counts(pred, ref, tolerance=2)
    assert counts["numeric_n"] == 1 and counts["numeric_abs_err"] == 2 and counts["numeric_within_tol"] == 1


def test_no_actions_on_either_side() -> None:
    counts = action_counts(set(), set(), tolerance=1)
    assert all(v == 0 for v in counts.values())
    m = action_metrics([counts])
    assert tuple(m) == ACTION_METRIC_KEYS
    assert all(math.isnan(v) for v in m.values())
    # an empty turn does not move the scores of the others
    other = action_counts({("tv", "volume", 20)}, {("tv", "volume", 20)}, tolerance=1)
    with_empty, without = action_metrics([other, counts]), action_metrics([other])
    for key in ACTION_METRIC_KEYS:
        assert with_empty[key] == without[key] or (math.isnan(with_empty[key]) and math.isnan(without[key]))


def test_prediction_only() -> None:
    m = action_metrics([action_counts({("tv", "volume", 20)}, set(), tolerance=1)])
    assert m["device_precision"] == 0.0 and m["param_precision"] == 0.0
    assert math.isnan(m["device_recall"]) and math.isnan(m["param_recall"])
    assert m["param_f1"] == 0.0 and math.isnan(m["numeric_mae"])


def test_reference_only() -> None:
    m = action_metrics([action_counts(set(), {("security", "armed", True)}, tolerance=1)])
    assert math.isnan(m["device_precision"]) and math.isnan(m["param_precision"])
    assert m["device_recall"] == 0.0 and m["param_recall"] == 0.0
    assert m["device_f1"] == 0.0 and math.isnan(m["categorical_accuracy"])


def test_micro_aggregation() -> None:
    rows = [
        action_counts({("tv", "volume", 20), ("tv", "input_source", "Netflix")}, {("tv", "volume", 20)}, 1),
        action_counts({("ac", "mode", "cool")}, {("ac", "mode", "heat"), ("ac", "fan_speed", 2)}, 1),
    ]
    m = action_metrics(rows)
    assert m["param_precision"] == pytest.approx(1 / 3)
    assert m["param_recall"] == pytest.approx(1 / 3)
    assert m["param_f1"] == pytest.approx(1 / 3)
    assert m["device_precision"] == 1.0 and m["device_recall"] == 1.0
    assert m["categorical_accuracy"] == 0.0
    assert m["numeric_exact_rate"] == 1.0


def test_end_to_end_turn() -> None:
    pred = extract_actions("Setting the AC to cool mode at 23 degrees, and the lights to 40%.")
    ref = extract_actions("I've set the AC to cool at 22°C with fan speed 2.")
    counts = action_counts(pred, ref, tolerance=1)
    assert counts["device_tp"] == 1 and counts["device_fp"] == 1 and counts["device_fn"] == 0
    assert counts["param_tp"] == 1 and counts["param_fp"] == 2 and counts["param_fn"] == 2
    assert counts["numeric_n"] == 1 and counts["numeric_within_tol"] == 1 and counts["numeric_exact"] == 0
    assert counts["categorical_n"] == 1 and counts["categorical_correct"] == 1
