#!/usr/bin/python3
"""Generates the fixtures of testdata/content with the real writers.

Run with Debian's interpreter (apt-get install python3-sentencepiece
python3-onnx python3-numpy python3-pil):

    /usr/bin/python3 testdata/gen_content.py

Writers: sentencepiece's trainer (the models), onnx.helper (the model,
whose top-level fields are then reordered: protobuf allows any order, and
onnx.load reads it the same), numpy and zipfile in the layout
keras.saving.saving_lib writes (Keras itself is not packaged by Debian),
PIL (PNG, JPEG, GIF, WebP, PDF). Hostile files are real files with bytes
added, as a polyglot's author would add them. EXPECT lists the verdicts.
"""
import time
import io
import os
import random
import struct
import zipfile
import json

import numpy as np
import onnx
import sentencepiece as spm
from onnx import TensorProto, helper
from PIL import Image

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "content")


def path(*parts):
    p = os.path.join(HERE, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def zipped(members):
    """A zip archive of members (name -> bytes), with a fixed timestamp."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def write(rel, data):
    with open(path(rel), "wb") as f:
        f.write(data)


def read(rel):
    with open(path(rel), "rb") as f:
        return f.read()


# SentencePiece: tiny models as DeBERTa-v3 (unigram, spm.model), MarianMT
# (source.spm, target.spm) and Llama (BPE with byte fallback) name them.
_rng = random.Random(7)
CORPUS = "\n".join(" ".join("".join(_rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(_rng.randint(2, 8)))
                             for _ in range(12)) for _ in range(400))


def train(rel, **kw):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS.splitlines()), model_writer=model,
                                   normalization_rule_name="identity", minloglevel=2, **kw)
    write(rel, model.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())  # the reader loads it back
    assert sp.get_piece_size() > 0


train("spm/spm.model", vocab_size=40, model_type="unigram")
train("spm/source.spm", vocab_size=40, model_type="bpe")
write("spm/target.spm", read("spm/source.spm"))
train("spm/tokenizer.model", vocab_size=300, model_type="bpe", byte_fallback=True)
# The same model under a name no tokenizer uses: content decides.
write("spm/vocab.bin", read("spm/spm.model"))
# A model with a zip behind it: zipfile opens the file.
write("spm/hostile/zip-behind.model", read("spm/spm.model") + zipped({"payload.txt": b"second reading"}))


# ONNX: a one-node model whose initializer names external data outside
# the model directory, fields written out of field-number order.
def fields(b):
    """Splits a message into its top-level fields (tag, value bytes)."""
    out, i = [], 0
    while i < len(b):
        start = i
        tag, i = varint(b, i)
        wt = tag & 7
        if wt == 0:
            _, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            i += n
        elif wt == 5:
            i += 4
        elif wt == 1:
            i += 8
        out.append((tag >> 3, b[start:i]))
    return out


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << s
        s += 7
        if c < 0x80:
            return v, i


w = helper.make_tensor("w", TensorProto.FLOAT, [2], [0.0, 0.0])
w.data_location = TensorProto.EXTERNAL
del w.float_data[:]
# Enough ".." to reach / from any checkout (the readers resolve it against
# the file's folder, and the verdict must not depend on where that lies).
OUT = "../" * 24 + "etc/passwd"
w.external_data.add(key="location", value=OUT)
graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])], [w])
model = helper.make_model(graph, producer_name="modelgate-fixture", opset_imports=[helper.make_opsetid("", 13)])
plain = model.SerializeToString()
write("onnx/ordered.onnx", plain)
order = {7: 0, 8: 1, 2: 2, 1: 3}  # graph, opset_import, producer_name, ir_version
shuffled = b"".join(v for _, v in sorted(fields(plain), key=lambda f: order.get(f[0], 9)))
assert shuffled[0] == (7 << 3 | 2)
back = onnx.ModelProto()
back.ParseFromString(shuffled)  # what onnx.load does before it reads external data
assert back == model and back.graph.initializer[0].external_data[0].value == OUT
write("onnx/shuffled.onnx", shuffled)
write("onnx/shuffled-named.txt", shuffled)


# Keras: the layout keras.saving.saving_lib.save_model writes (metadata.json,
# config.json, then the weights store), with weights as model.weights.npz.
config = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": [
    {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [None, 2], "name": "input"}},
    {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "lambda", "function": {
        "class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA", "defaults": None, "closure": None}}}}]}}
weights = io.BytesIO()
np.savez(weights, **{"layers/dense/vars/0": np.zeros((2, 2), np.float32)})
keras_zip = zipped({"metadata.json": json.dumps({"keras_version": "3.6.0", "date_saved": "2024-01-01@00:00:00"}).encode(),
                    "config.json": json.dumps(config).encode(), "model.weights.npz": weights.getvalue()})
write("keras/npz-weights.keras", keras_zip)
write("keras/npz-weights.zip", keras_zip)


# Images and documents, by PIL.
img = Image.new("RGB", (16, 12))
for x in range(16):
    for y in range(12):
        img.putpixel((x, y), (x * 16, y * 20, 128))


def save(rel, fmt, im=img, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    write(rel, b.getvalue())
    return b.getvalue()


png = save("media/figure.png", "PNG")
save("media/photo.jpg", "JPEG", quality=90)
save("media/progressive.jpg", "JPEG", progressive=True)
save("media/anim.gif", "GIF", im=img.convert("P"), save_all=True, append_images=[img.convert("P").rotate(90)], loop=0)
save("media/lossy.webp", "WEBP", quality=80)
save("media/lossless.webp", "WEBP", lossless=True)
when = time.gmtime(1704067200)  # 2024-01-01, so that the PDF is the same on every run
save("media/paper.pdf", "PDF", creationDate=when, modDate=when)
# A zip behind a PNG, named as torch.load's file: zipfile opens it
# (prepended data), and its member is a pickle.
write("media/hostile/pytorch_model.bin", png + zipped({
    "archive/data.pkl": b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.",
    "archive/version": b"3\n"}))
write("media/hostile/trailing.png", png + b"junk")
write("media/hostile/trailing.jpg", read("media/photo.jpg") + b"\x00" * 8)
write("media/hostile/trailing.pdf", read("media/paper.pdf") + b"PK")
# An HDF5 superblock at byte 1024, in a private chunk: h5py looks for
# one at 0, 512, 1024, 2048, ...
import zlib
data = b"\0" * (1024 - 41) + b"\x89HDF\r\n\x1a\n" + b"\0" * 8
chunk = struct.pack(">I", len(data)) + b"prVt" + data + struct.pack(">I", zlib.crc32(b"prVt" + data))
write("media/hostile/hdf5-at-1024.png", png[:33] + chunk + png[33:])


# Chat templates: tokenizer_config.json as transformers' save_pretrained
# writes it (json, indent 2, ensure_ascii False), with a real template
# (testdata/chattemplate) and with CVE-2024-34359's payload.
CVE = ('{% for x in ().__class__.__base__.__subclasses__() %}{% if "warning" in x.__name__ %}'
       '{{x()._module.__builtins__[\'__import__\'](\'os\').popen("touch /tmp/retr0reg")}}{%endif%}{% endfor %}')
with open(os.path.join(os.path.dirname(HERE), "chattemplate", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"), encoding="utf-8") as f:
    REAL = f.read()


def tokenizer_config(template):
    return (json.dumps({"add_bos_token": True, "bos_token": "<｜begin▁of▁sentence｜>", "chat_template": template,
                        "model_max_length": 16384, "tokenizer_class": "LlamaTokenizerFast"},
                       indent=2, ensure_ascii=False) + "\n").encode()


write("templates/real/tokenizer_config.json", tokenizer_config(REAL))
write("templates/real/chat_template.jinja", REAL.encode())
write("templates/hostile/tokenizer_config.json", tokenizer_config(CVE))
write("templates/hostile/chat_template.jinja", CVE.encode())
