#!/usr/bin/python3
"""Generates modelgate's test fixtures with real numpy and torch.

Run with Debian's interpreter (apt-get install python3-numpy python3-torch
python3-joblib python3-lz4):

    /usr/bin/python3 testdata/gen.py

It rewrites the files below testdata/ and testdata/digests.json, which holds
the sha256 of each tensor's bytes as numpy's tobytes() returns them, so that
Go tests can check that modelgate hands out exactly those bytes. Output is
deterministic: fixed seeds, fixed timestamps (except pickle/torch-legacy.pt,
whose storage keys are Python object ids).
"""
import hashlib
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DIGESTS = {}
# sha256 of each npy/npz array as canonical safetensors holds it: C order,
# little-endian (what modelgate convert must produce).
CANONICAL = {}

# safetensors dtype names for the numpy dtypes we write; torch provides BF16.
ST_DTYPES = {
    np.dtype("bool"): "BOOL", np.dtype("uint8"): "U8", np.dtype("int8"): "I8",
    np.dtype("<i2"): "I16", np.dtype("<u2"): "U16", np.dtype("<f2"): "F16",
    np.dtype("<i4"): "I32", np.dtype("<u4"): "U32", np.dtype("<f4"): "F32",
    np.dtype("<i8"): "I64", np.dtype("<u8"): "U64", np.dtype("<f8"): "F64",
}
# The reference writer's enum order (increasing alignment).
ST_ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3",
            "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16",
            "I32", "U32", "F32", "C64", "F64", "I64", "U64"]


def path(*parts):
    p = os.path.join(HERE, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def record(file_key, name, data):
    DIGESTS.setdefault(file_key, {})[name] = hashlib.sha256(data).hexdigest()


def save_safetensors(rel, tensors, metadata=None):
    """Writes a safetensors file as huggingface's reference writer does:
    tensors sorted by descending dtype then name, compact JSON, header padded
    with spaces to a multiple of 8. tensors maps name -> (dtype, shape, bytes)."""
    items = sorted(tensors.items(), key=lambda kv: (-ST_ORDER.index(kv[1][0]), kv[0]))
    header, offset, blobs = {}, 0, []
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, data) in items:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
        record(rel, name, data)
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    hb += b" " * (-len(hb) % 8)
    with open(path(rel), "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))


def save_with_header_length(rel, tensors, want):
    """save_safetensors with __metadata__ padded so that the header is
    exactly want bytes: its 8-byte length is then the first bytes a pickle
    walk reads as opcodes (issue 24 finding 1)."""
    for k in range(want):
        meta = {"pad": "x" * k}
        header = {"__metadata__": meta}
        offset = 0
        for name, (dtype, shape, data) in sorted(tensors.items(), key=lambda kv: (-ST_ORDER.index(kv[1][0]), kv[0])):
            header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
            offset += len(data)
        n = len(json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode())
        if n + (-n % 8) == want:
            return save_safetensors(rel, tensors, meta)
    raise ValueError("no padding gives header length %#x" % want)


def np_tensor(a):
    a = a.copy(order="C")  # keeps 0-d arrays 0-d, unlike ascontiguousarray
    return (ST_DTYPES[a.dtype], a.shape, a.tobytes())


def torch_bf16(t):
    return ("BF16", tuple(t.shape), t.contiguous().view(torch.int16).numpy().tobytes())


def gen_safetensors():
    rng = np.random.default_rng(1)
    torch.manual_seed(1)
    # A tiny two-layer MLP, the bundled example of the README.
    save_safetensors("safetensors/tiny-mlp.safetensors", {
        "layers.0.weight": np_tensor(rng.standard_normal((16, 8), dtype=np.float32)),
        "layers.0.bias": np_tensor(np.zeros(16, dtype=np.float32)),
        "layers.1.weight": torch_bf16(torch.randn(4, 16).to(torch.bfloat16)),
        "layers.1.bias": np_tensor(np.ones(4, dtype=np.float16)),
        "step": np_tensor(np.array(1000, dtype=np.int64)),
        "vocab_mask": np_tensor(np.array([True, False, True])),
    }, {"format": "pt", "source": "modelgate testdata/gen.py"})
    # One tensor of every numpy dtype safetensors shares, plus empty and scalar.
    every = {}
    for i, dt in enumerate(sorted(ST_DTYPES, key=str)):
        a = (np.arange(6) - 3).astype(dt).reshape(2, 3)
        every["t_" + ST_DTYPES[dt].lower()] = np_tensor(a)
    every["empty"] = np_tensor(np.zeros((0, 4), dtype=np.float32))
    every["scalar"] = np_tensor(np.array(3.5, dtype=np.float64))
    save_safetensors("safetensors/every-dtype.safetensors", every)
    # Valid files whose header length reads as pickle opcodes: 0x2e88 is
    # NEWTRUE, STOP (pickle.load returns True); 0x0280 is PROTO 2; a header
    # length ending 0x50 (PERSID) before a zero-filled first tensor puts no
    # newline in the first MiB.
    w = {"model.embed_tokens.weight": np_tensor(np.arange(8, dtype=np.float32))}
    save_with_header_length("safetensors/header-length-0x2e88.safetensors", w, 0x2E88)
    save_with_header_length("safetensors/header-length-0x0280.safetensors", w, 0x0280)
    save_with_header_length("safetensors/header-length-0x0150-zeros.safetensors",
                            {"a.weight": np_tensor(np.zeros(1 << 20, dtype=np.uint8)),
                             "b.weight": np_tensor(np.zeros(4096, dtype=np.uint8))}, 0x0150)


NPY_DTYPES = ["|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8",
              "<f2", "<f4", "<f8", "<c8", ">f4", ">i8", ">u2"]


def npy_bytes(a):
    """The data as np.save stores it: Fortran order for F-contiguous arrays."""
    return a.tobytes(order="F" if (a.flags.f_contiguous and not a.flags.c_contiguous) else "C")


def canonical(rel, name, a):
    c = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"))
    CANONICAL.setdefault(rel, {})[name] = hashlib.sha256(c.tobytes()).hexdigest()


def save_npy(rel, a, **kw):
    with open(path(rel), "wb") as f:
        if kw:
            np.lib.format.write_array(f, a, **kw)
        else:
            np.save(f, a)
    record(rel, "", npy_bytes(a))
    canonical(rel, "", a)


def gen_npy():
    for d in NPY_DTYPES:
        a = (np.arange(6) - 3).astype(np.dtype(d)).reshape(2, 3)
        save_npy("npy/%s.npy" % d.replace("<", "le-").replace(">", "be-").replace("|", "na-"), a)
    save_npy("npy/fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    save_npy("npy/scalar.npy", np.array(2.5, dtype=np.float32))
    save_npy("npy/empty.npy", np.zeros((0, 3), dtype=np.int32))
    save_npy("npy/v2.npy", np.arange(4, dtype=np.uint8), version=(2, 0))
    save_npy("npy/v3.npy", np.arange(4, dtype=np.int16), version=(3, 0))
    # Refused: object arrays are pickles; strings and structured are unsupported.
    np.save(path("npy/hostile/object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(path("npy/hostile/structured-object.npy"), np.zeros(2, dtype=[("x", "<f4"), ("o", "O")]), allow_pickle=True)
    np.save(path("npy/hostile/unicode.npy"), np.array(["a", "bc"]))
    np.save(path("npy/hostile/structured.npy"), np.zeros(2, dtype=[("x", "<f4"), ("y", "<i8")]))
    np.save(path("npy/hostile/complex128.npy"), np.zeros(2, dtype=np.complex128))
    np.save(path("npy/hostile/datetime.npy"), np.array(["2024-01-01"], dtype="datetime64[D]"))


def record_npz(rel, arrays):
    DIGESTS.setdefault(rel, {})
    for name, a in arrays.items():
        record(rel, name, npy_bytes(a))
        canonical(rel, name, a)


def gen_npz():
    rng = np.random.default_rng(2)
    arrays = {"weight": rng.standard_normal((8, 4)).astype(np.float32),
              "bias": np.arange(8, dtype=np.float16),
              "layers/0/scale": np.array(1.5, dtype=np.float64),
              "mask": np.array([True, False])}
    np.savez(path("npz/savez.npz"), **arrays)
    record_npz("npz/savez.npz", arrays)
    np.savez_compressed(path("npz/savez_compressed.npz"), **arrays)
    record_npz("npz/savez_compressed.npz", arrays)
    pos = [np.arange(3, dtype=np.int64), np.ones((2, 2), dtype=">f8")]
    np.savez(path("npz/positional.npz"), *pos)
    record_npz("npz/positional.npz", {"arr_%d" % i: a for i, a in enumerate(pos)})
    np.savez(path("npz/empty-archive.npz"))
    # To a stream that cannot seek (a pipe), zipfile writes data descriptors.
    import io

    class Unseekable(io.RawIOBase):
        def __init__(self):
            self.buf = io.BytesIO()

        def writable(self):
            return True

        def seekable(self):
            return False

        def write(self, b):
            return self.buf.write(b)

    stream = {"a": np.arange(5, dtype=np.float32), "b": np.ones((2, 2), dtype=np.int16)}
    out = Unseekable()
    np.savez(out, **stream)
    with open(path("npz/streamed.npz"), "wb") as f:
        f.write(out.buf.getvalue())
    record_npz("npz/streamed.npz", stream)
    record_npz("npz/empty-archive.npz", {})
    # Refused: an object array member, and a pickle member beside arrays.
    np.savez(path("npz/hostile/object-member.npz"), ok=np.zeros(2), bad=np.array([None], dtype=object))
    import zipfile
    with zipfile.ZipFile(path("npz/hostile/pickle-member.npz"), "w") as z:
        z.writestr(_zinfo("w.npy"), _npy_of(np.zeros(2, dtype=np.float32)))
        z.writestr(_zinfo("data.pkl"), __import__("pickle").dumps({"w": 1}, protocol=2))
    with zipfile.ZipFile(path("npz/hostile/renamed-pickle.npz"), "w") as z:
        z.writestr(_zinfo("w.npy"), __import__("pickle").dumps([1, 2, 3], protocol=4))
    big = np.zeros(200 * 1000 * 1000 // 8, dtype=np.float64)
    np.savez_compressed(path("npz/hostile/zeros-bomb.npz"), zeros=big)


def _zinfo(name):
    import zipfile
    return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))


def _npy_of(a):
    import io
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def gen_pickles():
    """Pickle-bearing files, each refused as pickle whatever it is named.
    Never load them: only the first one would be harmless."""
    import gzip, bz2, lzma, zlib, pickle, tarfile, io, joblib, lz4.frame
    torch.manual_seed(3)
    sd = {"linear.weight": torch.randn(2, 2), "linear.bias": torch.zeros(2)}
    torch.save(sd, path("pickle/torch-zip.pt"))
    torch.save(sd, path("pickle/torch-legacy.pt"), _use_new_zipfile_serialization=False)
    obj = {"weights": [1.0, 2.0], "name": "w"}
    for proto in range(6):
        with open(path("pickle/proto%d.pkl" % proto), "wb") as f:
            pickle.dump(obj, f, protocol=proto)
    with open(path("pickle/numpy-array.pkl"), "wb") as f:
        pickle.dump(np.arange(3, dtype=np.float32), f, protocol=2)
    raw = pickle.dumps(obj, protocol=4)
    with open(path("pickle/gzip.pkl.gz"), "wb") as f:
        f.write(gzip.compress(raw, mtime=0))
    with open(path("pickle/bz2.pkl.bz2"), "wb") as f:
        f.write(bz2.compress(raw))
    with open(path("pickle/xz.pkl.xz"), "wb") as f:
        f.write(lzma.compress(raw))
    with open(path("pickle/zlib.pkl.z"), "wb") as f:
        f.write(zlib.compress(raw))
    with open(path("pickle/lz4.pkl.lz4"), "wb") as f:
        f.write(lz4.frame.compress(raw))
    arr = {"w": np.arange(4, dtype=np.float32)}
    joblib.dump(arr, path("pickle/model.joblib"))
    joblib.dump(arr, path("pickle/model-zlib.joblib"), compress=("zlib", 3))
    joblib.dump(arr, path("pickle/model-gzip.joblib"), compress=("gzip", 3))
    # The oldest torch.save layout: a tar of sys_info, pickle, storages, tensors.
    with tarfile.open(path("pickle/torch-legacy-tar.pt"), "w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in (("sys_info", pickle.dumps({"protocol_version": 1001}, protocol=2)),
                           ("pickle", pickle.dumps(obj, protocol=2)),
                           ("storages", pickle.dumps(0, protocol=2)), ("tensors", pickle.dumps(0, protocol=2))):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            t.addfile(info, io.BytesIO(data))


def main():
    gen_safetensors()
    gen_npy()
    gen_npz()
    gen_pickles()
    for name, d in (("digests.json", DIGESTS), ("canonical.json", CANONICAL)):
        with open(path(name), "w") as f:
            json.dump(d, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
