#!/usr/bin/env python3
"""Show how a task receives its input: the JSON on stdin and the PT_* variables.

One script serves three tasks (the `_task` metaparameter tells them apart): `demo::inputs`
(input_method both), `demo::inputs_stdin` and `demo::inputs_env`.
"""

import json
import os
import sys

text = sys.stdin.read()
received = {
    "stdin": json.loads(text) if text.strip() else None,
    "environment": {k: v for k, v in sorted(os.environ.items()) if k.startswith("PT_")},
}
print(json.dumps(received))
