"""Bolt YAML plans: loading them whole (`load`, `catalog`), the expression subset (`expr`), and
the pure plan executor (`machine`) that says, from the folded log alone, what a plan job does next.

Shared code: imports no role. Reads plan and task files only in `catalog`, at `plan_run` time;
everything else is pure. `modules/` holds the built-in `bolt_shim` module (package data).
"""
