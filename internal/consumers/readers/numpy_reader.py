"""numpy_reader.py reads .npy and .npz files with numpy.load, as a consumer
that loads weights calls it (allow_pickle=False): one path a line on
standard input, one JSON reading a line out. Each array's bytes are hashed
in the order they are stored (tobytes(order="A")); an .npy file's data
offset is where numpy's header reader leaves the file."""
import hashlib
import json
import sys
import zipfile

import numpy as np

NAMES = {"b1": "BOOL", "u1": "U8", "i1": "I8", "i2": "I16", "u2": "U16", "f2": "F16", "i4": "I32",
         "u4": "U32", "f4": "F32", "c8": "C64", "f8": "F64", "i8": "I64", "u8": "U64"}


def dtype(d):
    name = NAMES.get(d.str[1:])
    if name is None or d.fields is not None:
        return "numpy:" + d.str
    return (">" if d.byteorder == ">" else "") + name


def tensor(name, arr, offset=None):
    if not isinstance(arr, np.ndarray):  # numpy hands a member that is not .npy out as its bytes
        raise TypeError("member %r is %s, not an array" % (name, type(arr).__name__))
    t = {"name_hex": name.encode("utf-8", "surrogatepass").hex(), "dtype": dtype(arr.dtype),
         "shape": list(arr.shape), "sha256": hashlib.sha256(arr.tobytes(order="A")).hexdigest(),
         "size": arr.nbytes}
    if offset is not None:
        t["offset"] = offset
    return t


def npy_offset(path):
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        np.lib.format._read_array_header(f, version)
        return f.tell()


def read(path):
    r = np.load(path, allow_pickle=False)
    if isinstance(r, np.ndarray):
        return {"ok": True, "tensors": [tensor("", r, npy_offset(path))]}
    with r:
        return {"ok": True, "tensors": [tensor(k, r[k]) for k in r.files]}


for line in sys.stdin:
    path = line.rstrip("\n")
    try:
        out = read(path)
    except Exception as e:  # a refusal: the reader raised
        out = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(out), flush=True)
