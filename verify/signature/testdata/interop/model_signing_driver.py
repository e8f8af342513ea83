"""Drive sigstore/model-transparency's model_signing from its source, offline.

modelgate's interop test (verify/interop_test.go) runs this to sign and
verify with the reference. model_signing's package __init__ imports
sigstore-python, which needs a compiled extension (rfc3161_client) that
cannot be built offline, so the package is registered bare and the keyless
module its signing and verifying modules import is replaced by a stub: only
the key and certificate methods run, and they need no network.

stdin: a JSON list of jobs; stdout: a JSON list of {"ok", "error"}, one per
job, in order. A job is

  {"op": "sign", "model": M, "signature": S, "private_key": K,
   ["signing_certificate": C, "certificate_chain": [F, ...]],
   "hash": "sha256"|"blake2"|"blake3", "shard_size": N (0: files),
   "ignore_paths": [P, ...]}
  {"op": "verify", "model": M, "signature": S,
   "public_key": K | "certificate_chain": [F, ...],
   "hash": ..., "shard_size": ..., "ignore_paths": [P, ...], "guess": bool}

verify hashes the model as hash and shard_size say (as a caller that
knows how the model was signed configures it), or, with "guess", as the
library guesses from the signature's manifest; either way it adds the
manifest's ignore_paths, as model_signing's verifier does, and the
job's, as its CLI's --ignore-paths does.
"""

import json
import importlib.util
import pathlib
import sys
import types


def _register():
    spec = importlib.util.find_spec("model_signing")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("model_signing's source is not on PYTHONPATH")
    pkg = types.ModuleType("model_signing")
    pkg.__path__ = list(spec.submodule_search_locations)
    pkg.__version__ = "source"
    sys.modules["model_signing"] = pkg
    stub = types.ModuleType("model_signing._signing.sign_sigstore")
    for name in ("Signature", "Signer", "Verifier"):
        setattr(stub, name, type(name, (), {}))
    sys.modules["model_signing._signing.sign_sigstore"] = stub


def _hashing(job, ignored):
    from model_signing import hashing

    cfg = hashing.Config().set_ignored_paths(paths=ignored)
    if job.get("shard_size"):
        cfg.use_shard_serialization(hashing_algorithm=job["hash"], shard_size=job["shard_size"])
    else:
        cfg.use_file_serialization(hashing_algorithm=job.get("hash", "sha256"))
    return cfg


def sign(job):
    from model_signing import signing

    model = pathlib.Path(job["model"])
    ignored = [pathlib.Path(p) for p in job.get("ignore_paths", [])]
    sig = pathlib.Path(job["signature"]).resolve()
    if sig.is_relative_to(model.resolve()):
        ignored.append(sig.relative_to(model.resolve()))  # as its CLI does
    cfg = signing.Config()
    if job.get("signing_certificate"):
        cfg.use_certificate_signer(
            private_key=job["private_key"],
            signing_certificate=job["signing_certificate"],
            certificate_chain=job.get("certificate_chain", []),
        )
    else:
        cfg.use_elliptic_key_signer(private_key=job["private_key"])
    cfg.set_hashing_config(_hashing(job, ignored)).sign(model, sig)


def verify(job):
    from model_signing import verifying

    cfg = verifying.Config()
    if job.get("public_key"):
        cfg.use_elliptic_key_verifier(public_key=job["public_key"])
    else:
        cfg.use_certificate_verifier(certificate_chain=job.get("certificate_chain", []))
    if not job.get("guess"):
        ignored = [pathlib.Path(p) for p in job.get("ignore_paths", [])]
        cfg.set_hashing_config(_hashing(job, ignored))  # as its CLI's --ignore-paths
    cfg.verify(job["model"], job["signature"])


def main():
    jobs = json.load(sys.stdin)
    _register()
    out = []
    for job in jobs:
        try:
            sign(job) if job["op"] == "sign" else verify(job)
            out.append({"ok": True, "error": ""})
        except Exception as e:  # the reference refuses by raising
            out.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
