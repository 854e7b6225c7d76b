#!/usr/bin/env python3
"""Report a key=value file's settings; a missing file or key is an `_error` (exit 0 on purpose:
the task specification says an `_error` fails the run whatever the exit code)."""

import json
import sys

params = json.load(sys.stdin)
path = params["path"]
try:
    with open(path, encoding="utf-8") as file:
        lines = file.read().splitlines()
except OSError as exc:
    error = {
        "kind": "demo/missing-file",
        "msg": f"cannot read {path}: {exc.strerror}",
        "details": {"path": path},
    }
    print(json.dumps({"_error": error}))
    sys.exit(0)
settings = {}
for line in lines:
    line = line.strip()
    if line and not line.startswith("#") and "=" in line:
        key, _, value = line.partition("=")
        settings[key.strip()] = value.strip()
missing = [key for key in params["required_keys"] if key not in settings]
if missing:
    error = {
        "kind": "demo/missing-keys",
        "msg": f"{path} does not set {', '.join(missing)}",
        "details": {"path": path, "missing": missing},
    }
    print(json.dumps({"_error": error, "settings": settings}))
    sys.exit(0)
print(json.dumps({"path": path, "settings": settings}))
