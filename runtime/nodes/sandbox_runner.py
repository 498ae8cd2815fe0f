"""Runs inside the sandbox (``runtime.nodes.sandbox``), standard library only: reads the
node's source and arguments as JSON on stdin, calls ``main(**args)`` and writes its return
value (or the user's traceback) as JSON to the result file in the scratch directory."""

import json
import linecache
import sys
import traceback


def _write(token: str, result: dict) -> None:
    with open(f".plait-result-{token}.json", "w") as f:
        json.dump(result, f)


def _main() -> None:
    payload = json.loads(sys.stdin.read())
    token = payload["token"]
    filename = f"<code node {payload['node']}>"
    source = payload["source"]
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        scope: dict = {"__name__": "__plait_code__"}
        exec(compile(source, filename, "exec"), scope)
        value = scope["main"](**payload["args"])
    except BaseException as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        # the user's frames only: this runner's (run as ``-c``, so named "<string>") are noise
        user = [f for f in frames if f.filename == filename]
        lines = traceback.format_list(user) + traceback.format_exception_only(type(exc), exc)
        _write(token, {"error": "Traceback (most recent call last):\n" + "".join(lines)})
        return
    try:
        _write(token, {"value": value})
    except (TypeError, ValueError) as exc:
        _write(token, {"error": f"main returned a value that is not JSON: {exc}"})


_main()
