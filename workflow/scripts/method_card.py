"""Rule method_card (rules/eval.smk): results/methods/<method>/<run>.json, what `adaptcommand chat`
loads (adaptcommand.chat.write_card)."""

from adaptcommand.chat import write_card

s = snakemake
write_card(s.output[0], s.params.card, s.input.get("choices"), s.log[0])
