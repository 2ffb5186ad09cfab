// Checks Kubernetes objects in YAML files against the Kubernetes schemas,
// offline (npm kubernetes-models: the OpenAPI schemas and ajv). Prints one
// line per object; exit 0 when every object is valid, 1 when one is not
// (naming the file, the object and the path that is wrong), 2 for bad usage
// or a file that is not YAML.
//
//   node tools/k8s/check.mjs k8s.yaml [more.yaml ...]
//   node tools/k8s/check.mjs --print-json k8s.yaml    # the objects as one JSON array (for tests)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseAllDocuments } from "yaml";

const require = createRequire(import.meta.url);
const printJson = process.argv[2] === "--print-json";
const files = process.argv.slice(printJson ? 3 : 2);
if (printJson) {
  const all = [];
  for (const file of files) for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) if (doc.contents) all.push(doc.toJS());
  console.log(JSON.stringify(all));
  process.exit(0);
}
if (files.length === 0) {
  console.error("usage: node check.mjs FILE.yaml ...");
  process.exit(2);
}
let bad = 0, checked = 0;
for (const file of files) {
  let docs;
  try {
    docs = parseAllDocuments(readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    process.exit(2);
  }
  for (const doc of docs) {
    if (doc.errors.length) {
      console.error(`${file}: not YAML: ${doc.errors[0].message}`);
      process.exit(2);
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    const where = `${file}: ${obj.kind ?? "?"} ${obj.metadata?.name ?? "?"}`;
    const [group, version] = String(obj.apiVersion ?? "").includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
    let Model;
    try {
      const path = group ? `kubernetes-models/${group}/${version}/${obj.kind}` : `kubernetes-models/${version}/${obj.kind}`;
      Model = require(path)[obj.kind];
    } catch {
      console.log(`INVALID ${where}: no schema for apiVersion ${obj.apiVersion} kind ${obj.kind}`);
      ++bad;
      continue;
    }
    ++checked;
    try {
      new Model(obj).validate();
      console.log(`valid   ${where}`);
    } catch (e) {
      console.log(`INVALID ${where}: ${e.message.split("\n")[0]}`);
      ++bad;
    }
  }
}
console.log(`${checked} objects checked, ${bad} invalid`);
process.exit(bad ? 1 : 0);
