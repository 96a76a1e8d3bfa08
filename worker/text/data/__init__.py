"""Lexicon files shipped with tocsin (own work, Apache-2.0 like the rest of the repository)."""
