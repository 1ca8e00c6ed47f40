"""Helpers that build test material and start real stacks, shared by tests/ and bench/."""
