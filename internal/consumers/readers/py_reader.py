"""py_reader.py KIND reads files with one of Debian's Python readers, as the
program that loads them next calls it: one path a line on standard input,
one JSON reading a line out ({"ok": true} and what the reader exposes, or
the error it raised).

  onnx           onnx.load (external data not loaded), then onnx.checker.check_model
  h5py           h5py.File(path, "r"): every dataset's name, dtype, shape
  sentencepiece  sentencepiece.SentencePieceProcessor(model_file=path)
"""
import json
import sys

KIND = sys.argv[1]


def read_onnx(path):
    import onnx
    m = onnx.load(path, load_external_data=False)
    onnx.checker.check_model(m)
    return {}


def read_h5py(path):
    import h5py
    tensors = []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                tensors.append({"name_hex": name.encode().hex(), "dtype": "numpy:" + obj.dtype.str, "shape": list(obj.shape)})
        f.visititems(visit)
    return {"tensors": tensors}


def read_sentencepiece(path):
    import sentencepiece
    sp = sentencepiece.SentencePieceProcessor(model_file=path)
    return {"metadata": {"pieces": str(sp.get_piece_size())}}


READ = {"onnx": read_onnx, "h5py": read_h5py, "sentencepiece": read_sentencepiece}[KIND]

for line in sys.stdin:
    path = line.rstrip("\n")
    try:
        out = READ(path)
        out["ok"] = True
    except Exception as e:  # a refusal: the reader raised
        out = {"ok": False, "error": "%s: %s" % (type(e).__name__, str(e)[:300])}
    print(json.dumps(out), flush=True)
