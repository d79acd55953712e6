"""Rule adapter_manifest (rules/adapters.smk): one method's manifest for one seed and population,
models/<method>/seed<s>/{adapters,new_users}.json (adaptcommand.manifests.write_population)."""

from adaptcommand.manifests import write_population

s = snakemake
write_population(s.output[0], s.wildcards.population, s.params.manifest, dict(s.input.items()), s.log[0])
