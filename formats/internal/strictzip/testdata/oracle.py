"""Zip differential oracle for strictzip (run by oracle_test.go).

For each archive named on stdin, print one JSON line with the members
and the sha256 of their bytes as two real consumers read them:
Python's zipfile (numpy's np.load) and torch's miniz-based reader
(torch._C.PyTorchFileReader, which torch.load uses; it opens only
archives whose members sit in one top-level directory, and says so).
"""
import hashlib
import json
import sys
import zipfile

try:
    import torch
except ImportError:  # the Go test requires torch; this is for manual use
    torch = None


def by_zipfile(path):
    try:
        with zipfile.ZipFile(path) as z:
            out = {}
            for name in z.namelist():
                out[name] = hashlib.sha256(z.read(name)).hexdigest()
            return {"members": out}
    except Exception as e:  # noqa: BLE001 - a refusal is data here
        return {"error": type(e).__name__ + ": " + str(e)}


def by_torch(path):
    if torch is None:
        return {"error": "no torch"}
    try:
        r = torch._C.PyTorchFileReader(path)
        out = {}
        prefix = None
        with zipfile.ZipFile(path) as z:
            first = z.namelist()[0]
            prefix = first.split("/")[0] + "/"
        for rec in r.get_all_records():
            out[prefix + rec] = hashlib.sha256(bytes(r.get_record(rec))).hexdigest()
        return {"members": out}
    except Exception as e:  # noqa: BLE001
        return {"error": type(e).__name__ + ": " + str(e)}


for line in sys.stdin:
    path = line.rstrip("\n")
    print(json.dumps({"path": path, "zipfile": by_zipfile(path), "torch": by_torch(path)}))
