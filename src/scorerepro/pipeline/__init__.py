"""Plumbing every stage of every paper uses: where files go (paths), the device, shard ranges and sample files
(common), scoring samples with the shared metrics (scoring), tables for people (tables), and how a stage is declared
for the CLI (registry). Stage modules themselves live in scorerepro/stages (shared) and papers/<paper>/stages."""
