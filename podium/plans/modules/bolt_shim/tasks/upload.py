#!/usr/bin/env python3
"""bolt_shim::upload: write a file (or unpack a directory, a gzipped tar) where it was asked."""

import base64
import io
import json
import os
import sys
import tarfile

params = json.load(sys.stdin)
path = params["path"]
content = base64.b64decode(params["content"])
if params.get("directory"):
    os.makedirs(path, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(content), mode="r:gz") as archive:
        archive.extractall(path, filter="data")
else:
    with open(path, "wb") as written:
        written.write(content)
if params.get("mode") is not None:
    os.chmod(path, params["mode"] & 0o7777)
message = f"Uploaded {len(content)} bytes to {path}\n"
print(json.dumps({"stdout": message, "stderr": "", "merged_output": message, "exit_code": 0}))
