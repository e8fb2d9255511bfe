"""Translation: providers and their guard (providers), HTML-aware segmenting (segment), the
stage that drains pending translations (engine), and derived script editions (script)."""
