"""Development tooling run by CI (not installed with the package)."""
