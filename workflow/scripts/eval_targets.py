"""Rule eval_targets: the list of (persona, dialogue, turn, kind) every method is scored on."""

from collections import Counter

from adaptcommand.data.io import load_dialogs, load_splits, write_jsonl_atomic
from adaptcommand.data.splits import split_dialogs
from adaptcommand.evaluate.targets import eval_targets, targets_fingerprint
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    dialogs = split_dialogs(
        load_dialogs(snakemake.input.dialogs),
        load_splits(snakemake.input.splits),
        p.data_split,
        list(p.personas),
    )
    targets = eval_targets(dialogs, p.skip_assistant_turns, p.context_messages)
    if not targets:  # nothing to score: a config that would make every metric empty
        raise ValueError(
            f"no {snakemake.wildcards.split} targets: eval.skip_assistant_turns = "
            f"{p.skip_assistant_turns} skips every assistant turn of {len(dialogs)} dialogues"
        )
    write_jsonl_atomic(snakemake.output[0], targets)
    kinds = Counter(t["kind"] for t in targets)
    log.info(
        "%d targets from %d dialogues (kinds %s), fingerprint %s",
        len(targets),
        len(dialogs),
        dict(kinds),
        targets_fingerprint(targets),
    )
