"""py_reader.py KIND reads files with one of Debian's Python readers, as the
program that loads them next calls it: one path a line on standard input,
one JSON reading a line out ({"ok": true} and what the reader exposes, or
the error it raised).

  onnx           onnx.load (external data not loaded), then onnx.checker.check_model
  h5py           h5py.File(path, "r"): every dataset's name, dtype, shape
  sentencepiece  sentencepiece.SentencePieceProcessor(model_file=path)
  jinja2         a chat template (a tokenizer_config.json's chat_template, or
                 the file itself) compiled and rendered as transformers does,
                 in jinja2's ImmutableSandboxedEnvironment; the rendering's
                 SHA-256 is compared with @huggingface/jinja's (jinja.cjs)
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


MESSAGES = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]


def chat_template(path):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8")
    t = doc["chat_template"]
    return t if isinstance(t, str) else t[0]["template"]


def read_jinja2(path):
    import hashlib
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    out = env.from_string(chat_template(path)).render(messages=MESSAGES, add_generation_prompt=True,
                                                      bos_token="<s>", eos_token="</s>")
    return {"metadata": {"rendered": hashlib.sha256(out.encode()).hexdigest()}}


READ = {"jinja2": read_jinja2, "onnx": read_onnx, "h5py": read_h5py, "sentencepiece": read_sentencepiece}[KIND]

for line in sys.stdin:
    path = line.rstrip("\n")
    try:
        out = READ(path)
        out["ok"] = True
    except Exception as e:  # a refusal: the reader raised
        out = {"ok": False, "error": "%s: %s" % (type(e).__name__, str(e)[:300])}
    print(json.dumps(out), flush=True)
