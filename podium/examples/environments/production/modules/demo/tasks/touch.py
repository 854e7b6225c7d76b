#!/usr/bin/env python3
"""Create a file; in noop mode, only report what would change."""

import json
import os
import sys

params = json.load(sys.stdin)
path = params["path"]
exists = os.path.exists(path)
if params.get("_noop"):
    print(json.dumps({"path": path, "changed": False, "would_change": not exists, "noop": True}))
    sys.exit(0)
if not exists:
    with open(path, "a", encoding="utf-8"):
        pass
print(json.dumps({"path": path, "changed": not exists}))
