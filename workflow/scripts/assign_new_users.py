"""Rule assign_new_users: each new user's nearest cluster and known personas by character text."""

from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    import json
    from pathlib import Path

    from adaptcommand.clusters import character_features
    from adaptcommand.data.io import load_dialogs, write_json_atomic
    from adaptcommand.personas import assign_new_users

    s = snakemake
    known = list(s.params.personas)
    characters = json.loads(Path(s.input.characters).read_text())  # {new user: character text}
    new = sorted(characters)
    rows = [{"persona_id": p, "character": t} for p, t in characters.items()]
    known_x = character_features(load_dialogs(s.input.dialogs), known, s.params.minilm)
    new_x = character_features(rows, new, s.params.minilm)
    clusters = json.loads(Path(s.input.assignments).read_text())["clusters"]
    doc, similarity = assign_new_users(
        dict(zip(known, known_x, strict=True)), clusters, dict(zip(new, new_x, strict=True))
    )
    write_json_atomic(s.output.similarity, similarity)
    write_json_atomic(s.output.assignments, doc)
    log.info("new users -> clusters %s", doc["assignment"])
