// serve_openai.mjs PORT MODEL INPUTS.json — the official OpenAI Node library calling
// xfwd serve's /v1/embeddings: once with its default (it asks for base64 and decodes
// it), once with encoding_format "float", and once with the API key wrong. Prints
// {"base64": rows, "float": rows, "wrong_key": status} as JSON.
import OpenAI from 'openai';
import { readFileSync } from 'node:fs';

const [port, model, inputsPath] = process.argv.slice(2);
const inputs = JSON.parse(readFileSync(inputsPath, 'utf8'));
const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'node-key', maxRetries: 0, timeout: 60000 });
const byDefault = await client.embeddings.create({ model, input: inputs });
const asFloat = await client.embeddings.create({ model, input: inputs, encoding_format: 'float' });
let wrongKey = 0;
try {
  const other = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await other.embeddings.create({ model, input: inputs });
} catch (e) {
  wrongKey = e.status ?? -1;
}
const rows = (r) => r.data.sort((a, b) => a.index - b.index).map((d) => Array.from(d.embedding));
console.log(JSON.stringify({ base64: rows(byDefault), float: rows(asFloat), wrong_key: wrongKey,
                             usage: byDefault.usage, model: byDefault.model }));
