#!/usr/bin/env python3
"""bolt_shim::script: write the script to a private directory, run it with its arguments (through
its shebang, else /bin/sh); answer as Bolt reads a command's result."""

import base64
import json
import os
import subprocess
import sys
import tempfile

params = json.load(sys.stdin)
with tempfile.TemporaryDirectory(prefix="bolt_shim.") as directory:
    path = os.path.join(directory, os.path.basename(params.get("name") or "script"))
    with open(path, "wb") as script:
        script.write(base64.b64decode(params["content"]))
    os.chmod(path, 0o700)
    with open(path, "rb") as script:
        shebang = script.read(2) == b"#!"
    command = [path] if shebang else ["/bin/sh", path]
    run = subprocess.run(
        command + list(params.get("arguments") or []), capture_output=True, check=False
    )
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
        "msg": f"The script failed with exit code {run.returncode}",
        "details": {"exit_code": run.returncode},
    }
print(json.dumps(result))
sys.exit(run.returncode)
