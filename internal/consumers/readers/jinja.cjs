// jinja.cjs renders a chat template (a tokenizer_config.json's
// chat_template, or the file itself) with @huggingface/jinja, the engine
// transformers.js uses, with the messages py_reader.py's jinja2 reader
// renders: one path a line in, the rendering's SHA-256 out. The package is
// loaded from $MODELGATE_NODE_MODULES.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const readline = require("node:readline");
const { Template } = require(path.join(process.env.MODELGATE_NODE_MODULES, "@huggingface/jinja"));

const messages = [{ role: "system", content: "S" }, { role: "user", content: "U" }, { role: "assistant", content: "A" }];

function template(p) {
  const raw = fs.readFileSync(p, "utf8");
  let doc;
  try {
    doc = JSON.parse(raw);
  } catch {
    return raw;
  }
  const t = doc.chat_template;
  return typeof t === "string" ? t : t[0].template;
}

readline.createInterface({ input: process.stdin }).on("line", (p) => {
  let out;
  try {
    const s = new Template(template(p)).render({ messages, add_generation_prompt: true, bos_token: "<s>", eos_token: "</s>" });
    out = { ok: true, metadata: { rendered: crypto.createHash("sha256").update(s).digest("hex") } };
  } catch (e) {
    out = { ok: false, error: String(e && e.message ? e.message : e).slice(0, 300) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
});
