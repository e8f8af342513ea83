// ort.cjs parses ONNX models with onnxruntime-node, as
// InferenceSession.create(buffer) does before any inference: one path a
// line on standard input, {"ok":true} or the error out. The package is
// loaded from $MODELGATE_NODE_MODULES.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const readline = require("node:readline");
const ort = require(path.join(process.env.MODELGATE_NODE_MODULES, "onnxruntime-node"));

let busy = Promise.resolve();
readline.createInterface({ input: process.stdin }).on("line", (p) => {
  busy = busy.then(async () => {
    let out;
    try {
      const s = await ort.InferenceSession.create(fs.readFileSync(p));
      out = { ok: true, metadata: { inputs: s.inputNames.join(","), outputs: s.outputNames.join(",") } };
      await s.release();
    } catch (e) {
      out = { ok: false, error: String(e && e.message ? e.message : e).slice(0, 300) };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  });
});
