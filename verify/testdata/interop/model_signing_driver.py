"""Drive sigstore/model-transparency's model_signing from its source, offline.

modelgate's interop test (verify/interop_test.go) runs this to sign and
verify with the reference. model_signing's package __init__ imports
sigstore-python, which needs a compiled extension (rfc3161_client) that
cannot be built offline, so the package is registered bare and the keyless
module it imports is replaced by a stub: only key and certificate signing
run, which need no network.

  sign   --model M --signature S (--private-key K | --private-key K
         --signing-certificate C [--certificate-chain F ...])
         [--hash sha256|blake2|blake3] [--shard-size N] [--ignore-paths P ...]
  verify --model M --signature S (--public-key K | --certificate-chain F ...)

verify hashes the model as the signature's manifest says (the library's
guess; model_signing's CLI would hash by SHA-256 files whatever was signed).

Exit 0 on success; 1 with the reference's message on stderr when it refuses.
"""

import argparse
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
    # The keyless method needs sigstore-python; key and certificate
    # signing never touch it.
    stub = types.ModuleType("model_signing._signing.sign_sigstore")
    for name in ("Signature", "Signer", "Verifier"):
        setattr(stub, name, type(name, (), {}))
    sys.modules["model_signing._signing.sign_sigstore"] = stub


def _hashing(args):
    from model_signing import hashing

    cfg = hashing.Config()
    ignored = [pathlib.Path(p) for p in args.ignore_paths or []]
    sig = pathlib.Path(args.signature).resolve()
    model = pathlib.Path(args.model).resolve()
    if sig.is_relative_to(model):
        ignored.append(sig.relative_to(model))  # as its CLI does
    cfg.set_ignored_paths(paths=ignored)
    if args.shard_size:
        cfg.use_shard_serialization(hashing_algorithm=args.hash, shard_size=args.shard_size)
    else:
        cfg.use_file_serialization(hashing_algorithm=args.hash)
    return cfg


def sign(args):
    from model_signing import signing

    cfg = signing.Config()
    if args.signing_certificate:
        cfg.use_certificate_signer(
            private_key=args.private_key,
            signing_certificate=args.signing_certificate,
            certificate_chain=args.certificate_chain or [],
        )
    else:
        cfg.use_elliptic_key_signer(private_key=args.private_key)
    cfg.set_hashing_config(_hashing(args)).sign(args.model, args.signature)


def verify(args):
    from model_signing import verifying

    cfg = verifying.Config()
    if args.public_key:
        cfg.use_elliptic_key_verifier(public_key=args.public_key)
    else:
        cfg.use_certificate_verifier(certificate_chain=args.certificate_chain or [])
    cfg.verify(args.model, args.signature)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("op", choices=["sign", "verify"])
    p.add_argument("--model", required=True)
    p.add_argument("--signature", required=True)
    p.add_argument("--private-key")
    p.add_argument("--public-key")
    p.add_argument("--signing-certificate")
    p.add_argument("--certificate-chain", action="append")
    p.add_argument("--hash", default="sha256")
    p.add_argument("--shard-size", type=int, default=0)
    p.add_argument("--ignore-paths", action="append")
    args = p.parse_args()
    _register()
    try:
        sign(args) if args.op == "sign" else verify(args)
    except Exception as e:  # the reference refuses by raising
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
