"""Rendering: intent (YAML) + templates (Jinja2) -> the exact configs each system takes."""
