"""Command-line tools: `eval` measures the context the assistant builds (make eval)."""
