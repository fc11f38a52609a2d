"""Mistakes of a new user's first hour; the first argument picks one, then {input} and {outdir}.

colour:    fails like a tool that colours its messages (ANSI codes) and names its input in the error.
cwd:       writes its result into the current folder instead of {outdir}.
print:     prints its result (REPEAT lines of JSON-looking text) instead of writing a file.
transcript: prints as `print` does, then keeps a transcript of its own as stdout.txt in its current folder.
fail-on:   fails for inputs whose path contains the fourth argument, succeeds for the others.
latin1:    writes its result in a file named in Latin-1 (r\xe9sultat.json), as old tools on such systems do.
crash:     ends by a segmentation fault (SIGSEGV), as a native tool's bug does.
linked:    keeps its result in a cache file beside its input, rewritten in place, and links it into {outdir}.
hang-late: succeeds for repetition 1 (fourth argument); hangs for the others, after creating a file named
           after its pid in the folder given as fifth argument.
"""

import json
import os
import sys
import time
from pathlib import Path

mode, inp, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
if mode == "colour":
    print(f"\x1b[1m\x1b[31mERROR\x1b[0m: cannot read {inp}\x1b[K", file=sys.stderr)
    sys.exit(2)
if mode == "cwd":
    Path("result.json").write_text(json.dumps({"value": 1.0}))
    sys.exit(0)
if mode in ("print", "transcript"):
    for i in range(int(os.environ.get("REPEAT", "1"))):
        print(f"line {i}: value {len(inp)}.5")
    if mode == "transcript":
        Path("stdout.txt").write_text("transcript: done\n")
    sys.exit(0)
if mode == "crash":
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)
if mode == "latin1":
    with open(os.path.join(os.fsencode(out), b"r\xe9sultat.json"), "w") as fh:
        json.dump({"value": 1.0}, fh)
    sys.exit(0)
if mode == "linked":  # nipype-style: the output is a hard link to a cache file the next execution rewrites in place
    cache = Path(inp).with_suffix(".cache.json")
    with open(cache, "w") as fh:  # same inode: "w" truncates
        json.dump({"value": 1.0, "attempt": os.environ["REPROVIP_ATTEMPT"]}, fh)
    os.link(cache, out / "result.json")
    sys.exit(0)
if mode == "hang-late" and sys.argv[4] != "1":
    Path(sys.argv[5], str(os.getpid())).touch()
    time.sleep(600)
if mode == "fail-on" and sys.argv[4] in inp:
    print("this subject is broken", file=sys.stderr)
    sys.exit(1)
(out / "result.json").write_text(json.dumps({"value": 1.0}))
