"""The search space: model descriptions (pure data), known genotypes, ops and the builder."""
