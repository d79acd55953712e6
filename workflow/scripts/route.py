"""Rules route, evaluate_routing and routing_oracle (rules/routing.smk): routing's three steps.

route:            val per_persona.csv + predictions of each candidate -> results/routing/seed<s>/choices.json
evaluate_routing: choices + the candidates' test predictions -> results/eval/test/routing/seed<s>/*
routing_oracle:   the candidates' test per_persona.csv -> results/routing/seed<s>/oracle.json (not a method)
"""

import json
import time
from pathlib import Path

from adaptcommand.data.io import read_jsonl, write_json_atomic
from adaptcommand.routing import (
    ORACLE_LABEL,
    RoutingError,
    choose,
    chosen_methods,
    compose,
    oracle,
    parse_candidates,
    read_scores,
    within_noise,
)
from adaptcommand.runtime import rule_context

with rule_context(snakemake) as log:
    s = snakemake
    candidates = parse_candidates(s.params.candidates)
    metric = s.params.metric

    if s.rule == "route":
        files = dict(zip(candidates, s.input.val, strict=True))
        scores = {c: read_scores(f, metric) for c, f in files.items()}
        result = choose(scores, candidates, metric, personas=list(s.params.personas))
        rows = {
            c: [r for _, r in read_jsonl(f)] for c, f in zip(candidates, s.input.val_predictions, strict=True)
        }
        noise = s.params.noise
        result = within_noise(
            result, rows, noise["default"], noise["confidence"], noise["resamples"], s.params.seed
        )
        result["read"] = files  # provenance: val files only
        write_json_atomic(s.output[0], result)
        log.info("routing on val %s: %s", metric, result["counts"])

    elif s.rule == "evaluate_routing":
        from adaptcommand.evaluate.harness import write_results  # torch and MiniLM: this step only

        start = time.perf_counter()
        choices = json.loads(Path(s.input.choices).read_text())
        if choices["candidates"] != candidates or choices["metric"] != metric:
            raise RoutingError("choices.json was made for other candidates / metric: re-run rule route")
        preds = {
            c: [row for _, row in read_jsonl(f)] for c, f in zip(candidates, s.input.predictions, strict=True)
        }
        metas = {c: json.loads(Path(f).read_text()) for c, f in zip(candidates, s.input.metrics, strict=True)}
        tokens = {m["max_new_tokens"] for m in metas.values()}
        if len(tokens) != 1:
            raise RoutingError(f"candidates generated with different max_new_tokens: {tokens}")
        chosen = chosen_methods(choices)
        rows = compose(chosen, preds)
        targets = [row for _, row in read_jsonl(s.input.targets)]
        meta = {
            "method": "routing",
            "split": "test",
            "seconds": round(time.perf_counter() - start, 2),
            "max_new_tokens": tokens.pop(),
            "merged_into_base": "as the routed method",
            "routing": {"chosen_on": "val", "metric": metric, "candidates": candidates},
            "routed_from": choices["counts"],
        }
        summary = write_results(rows, targets, dict(s.output.items()), meta)
        log.info("routing on test: %s", summary["micro"])

    elif s.rule == "routing_oracle":
        choices = json.loads(Path(s.input.choices).read_text())
        scores = {c: read_scores(f, metric) for c, f in zip(candidates, s.input.test, strict=True)}
        result = oracle(scores, candidates, metric, routed=chosen_methods(choices))
        # What routing really got, from its own composed results (must equal the chosen candidates').
        routed = read_scores(s.input.routed, metric)
        for p, v in result["personas"].items():
            got, want = routed[p], v["routed_test_score"]
            if want is not None and abs(got - want) > 1e-9:
                raise RoutingError(f"{p}: routing's test {metric} {got} != its chosen method's {want}")
        write_json_atomic(s.output[0], result)
        log.info("%s, macro %s: %s", ORACLE_LABEL, metric, result[f"macro_{metric}"])

    else:
        raise RuntimeError(f"route.py: unknown rule {s.rule}")
