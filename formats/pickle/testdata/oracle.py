"""Differential oracle for formats/pickle (run by oracle_test.go).

For each file named on stdin, report as one JSON line what CPython's own
pickle machinery does with it, without ever executing anything:

- "unpickler": Python's pickle machine (the pure-Python _Unpickler, which
  reads exactly what it consumes, so its failure offset is exact), with
  find_class replaced by one that records the import and stops. "import"
  means it reached an import (GLOBAL, INST, STACK_GLOBAL, EXT), "stop" that
  load() completed, "error" that it raised first, at "pos". A module name
  holding a NUL is handed to CPython's own find_class, which cannot import
  it: error "NulModule".
- "genops": pickletools.genops' opcodes up to its first error, as
  (name, pos) pairs, so the test can ask whether genops reached STOP,
  GLOBAL, STACK_GLOBAL, INST or REDUCE.
"""
import io
import json
import pickle
import pickletools
import sys


class Imported(Exception):
    pass


class NulModule(Exception):
    """CPython's own find_class refused a module name holding a NUL."""


class Recorder(pickle._Unpickler):
    def find_class(self, module, name):
        if "\x00" in module:
            # No module can have that name: let CPython's find_class show it
            # fails (ModuleNotFoundError) before anything is imported.
            try:
                pickle._Unpickler.find_class(self, module, name)
            except (ImportError, ValueError):
                raise NulModule(module + "." + name)
        raise Imported(module + "." + name)


def unpickle(data):
    f = io.BytesIO(data)
    try:
        Recorder(f).load()
        return {"result": "stop"}
    except Imported as e:
        return {"result": "import", "name": str(e)}
    except NulModule:
        return {"result": "error", "pos": f.tell(), "error": "NulModule"}
    except BaseException as e:  # noqa: BLE001 - every failure is data here
        return {"result": "error", "pos": f.tell(), "error": type(e).__name__}


def genops(data):
    ops = []
    try:
        for op, _, pos in pickletools.genops(io.BytesIO(data)):
            ops.append([op.name, pos])
    except BaseException:  # noqa: BLE001
        pass
    return ops


for line in sys.stdin:
    path = line.rstrip("\n")
    with open(path, "rb") as fh:
        data = fh.read()
    print(json.dumps({"path": path, "unpickler": unpickle(data), "genops": genops(data)}))
