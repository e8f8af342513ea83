"""A consumer for modelgate run's tests, run by Debian's /usr/bin/python3.

    consumer.py digests            the sealed file's tensors: {"name", "sha256"} lines
    consumer.py wait DIR           as digests, after DIR/go appears (DIR/ready first)
    consumer.py attempt WHAT ARG...  things the sandbox must refuse, one {"what", "arg", "ok", "error"} line each
    consumer.py segv               kill itself with SIGSEGV

The sealed file is MODELGATE_MODEL_PATH (also given as an argument
through the {model} placeholder, which the tests check is the same).
"""
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time

import numpy as np

path = os.environ["MODELGATE_MODEL_PATH"]


def digests():
    fmt = os.environ["MODELGATE_MODEL_FORMAT"]
    if fmt == "npy":
        a = np.load(path)
        print(json.dumps({"name": "array", "sha256": hashlib.sha256(a.tobytes(order="A")).hexdigest()}))  # as stored
        return
    m = np.memmap(path, dtype=np.uint8, mode="r")  # the sealed bytes, mapped
    n = struct.unpack("<Q", m[:8].tobytes())[0]
    header = json.loads(m[8:8 + n].tobytes())
    for name, t in sorted(header.items()):
        if name == "__metadata__":
            continue
        s, e = t["data_offsets"]
        data = m[8 + n + s:8 + n + e]
        print(json.dumps({"name": name, "sha256": hashlib.sha256(data.tobytes()).hexdigest()}))


def attempt(what, arg):
    try:
        if what == "read":
            open(arg, "rb").read(1)
        elif what == "list":
            os.listdir(arg)
        elif what == "write":
            with open(arg, "wb") as f:
                f.write(b"x")
        elif what == "write-sealed":
            with open(path, "r+b") as f:
                f.write(b"x")
        elif what == "allocate":
            np.ones(int(arg), dtype=np.uint8)
        elif what == "connect":
            socket.create_connection((arg, 80), timeout=2).close()
        elif what == "bind":
            socket.socket().bind(("127.0.0.1", int(arg)))
        else:
            raise SystemExit("unknown attempt " + what)
    except (OSError, MemoryError) as e:
        print(json.dumps({"what": what, "arg": arg, "ok": False, "error": type(e).__name__ + ": " + str(e)}))
        return
    print(json.dumps({"what": what, "arg": arg, "ok": True}))


def main():
    if sys.argv[-1] != path and sys.argv[1] != "attempt":
        raise SystemExit("the {model} placeholder was not %s: %r" % (path, sys.argv))
    cmd = sys.argv[1]
    if cmd == "digests":
        digests()
    elif cmd == "wait":
        d = sys.argv[2]
        open(os.path.join(d, "ready"), "w").close()
        while not os.path.exists(os.path.join(d, "go")):
            time.sleep(0.01)
        digests()
    elif cmd == "attempt":
        for i in range(2, len(sys.argv) - 1, 2):
            attempt(sys.argv[i], sys.argv[i + 1])
    elif cmd == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)


main()
