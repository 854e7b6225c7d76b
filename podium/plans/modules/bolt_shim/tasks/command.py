#!/usr/bin/env python3
"""bolt_shim::command: run the command; answer as Bolt reads a command's result."""

import json
import subprocess
import sys

params = json.load(sys.stdin)
run = subprocess.run(["/bin/sh", "-c", params["command"]], capture_output=True, check=False)
stdout = run.stdout.decode("utf-8", "replace")
stderr = run.stderr.decode("utf-8", "replace")
result = {
    "stdout": stdout,
    "stderr": stderr,
    "merged_output": stdout + stderr,
    "exit_code": run.returncode,
}
if run.returncode != 0:
    result["_error"] = {
        "kind": "puppetlabs.tasks/command-error",
        "msg": f"The command failed with exit code {run.returncode}",
        "details": {"exit_code": run.returncode},
    }
print(json.dumps(result))
sys.exit(run.returncode)
