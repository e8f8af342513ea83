// hfgguf.cjs reads GGUF files with @huggingface/gguf, the Hub's parser:
// one path a line on standard input, one JSON reading a line out, in the
// spelling ggml.c prints (hex for strings, bits for floats). The package
// is loaded from $MODELGATE_NODE_MODULES.
"use strict";
const path = require("node:path");
const readline = require("node:readline");
const { gguf } = require(path.join(process.env.MODELGATE_NODE_MODULES, "@huggingface/gguf"));

const typeNames = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"];
const hex = (s) => Buffer.from(s, "utf8").toString("hex");

function scalar(t, v) {
  const b = Buffer.alloc(8);
  switch (t) {
    case 6: b.writeFloatLE(v); return "0x" + b.readUInt32LE(0).toString(16).padStart(8, "0");
    case 12: b.writeDoubleLE(v); return "0x" + b.readBigUInt64LE(0).toString(16).padStart(16, "0");
    case 7: return v ? "1" : "0";
    case 8: return hex(v);
    default: return String(v);
  }
}

function value(e) {
  if (e.type !== 9) return (e.type === 8 ? "str " : typeNames[e.type] + " ") + scalar(e.type, e.value);
  return `arr[${typeNames[e.subType]}] ${e.value.length} [${e.value.map((v) => scalar(e.subType, v)).join(",")}]`;
}

async function read(p) {
  const r = await gguf(p, { allowLocalFile: true, typedMetadata: true });
  const metadata = {};
  for (const [k, e] of Object.entries(r.typedMetadata)) {
    // the parser adds these three from the header, beside the file's keys
    if (k === "version" || k === "tensor_count" || k === "kv_count") continue;
    metadata[hex(k)] = value(e);
  }
  const tensors = r.tensorInfos.map((t) => ({
    name_hex: hex(t.name),
    dtype: "ggml:" + t.dtype,
    shape: t.shape.map(Number),
    offset: Number(r.tensorDataOffset + t.offset),
  }));
  return { ok: true, metadata, tensors };
}

const rl = readline.createInterface({ input: process.stdin });
const queue = [];
let busy = Promise.resolve();
rl.on("line", (p) => {
  busy = busy.then(async () => {
    let out;
    try {
      out = await read(p);
    } catch (e) {
      out = { ok: false, error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  });
});
