"""Counterflow replay: the main job (make demo)."""
