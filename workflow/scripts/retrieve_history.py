"""Rule retrieve_history: each dialogue of a split -> its top-k past TRAIN exchanges of the same persona
(for the new users, cold_start: of their first history.cold_start_sessions sessions)."""

from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    from adaptcommand.data.io import load_dialogs, load_splits, write_jsonl_atomic
    from adaptcommand.retrieval import minilm_encoder, retrieve_for_split

    s = snakemake
    rows = retrieve_for_split(
        load_dialogs(s.input.dialogs),
        load_splits(s.input.splits),
        s.params.data_split,
        list(s.params.personas),
        int(s.params.k),
        query_turns=int(s.params.query_turns),
        encode=minilm_encoder(s.params.minilm),
        pool_sessions=int(s.params.pool_sessions),
    )
    write_jsonl_atomic(s.output[0], rows)
    log.info("%s: %d dialogues, %d exchanges each", s.wildcards.split, len(rows), int(s.params.k))
