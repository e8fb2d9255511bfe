"""Ingestion: sources into the store. `poll` runs each source's poll in phases (fetch → parse →
save → record); `schedule` decides when a source is due; `fetch` fetches over HTTP or reads a
file; `parse` turns a body into Articles through `encoding`, `xmlfeed` (RSS/Atom) or
`jsonfeed`, with what they share in `entries`; `local` reads article files; `normalise` owns
dates, guids and languages; `pool` parses big bodies in worker processes (`forkwatch`)."""
