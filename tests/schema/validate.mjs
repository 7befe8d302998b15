// Validates a fwaudit report against the official schema:
//   node validate.mjs sarif FILE       (SARIF 2.1.0, draft-04 schema from @microsoft/jest-sarif)
//   node validate.mjs cyclonedx FILE   (CycloneDX 1.6, draft-07 schema from @cyclonedx/cyclonedx-library)
// Prints "valid" or the schema errors; exit code 0 when valid, 1 when not.
import { readFileSync } from "node:fs";
import Ajv from "ajv";
import AjvDraft04 from "ajv-draft-04";
import addFormats from "ajv-formats";

const [kind, file] = process.argv.slice(2);
const load = (p) => JSON.parse(readFileSync(new URL("./node_modules/" + p, import.meta.url), "utf8"));
const doc = JSON.parse(readFileSync(file, "utf8"));

let validate;
if (kind === "sarif") {
  const ajv = new AjvDraft04({ allErrors: true, strict: false, unicodeRegExp: false, logger: false });
  addFormats(ajv);
  validate = ajv.compile(load("@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"));
} else if (kind === "cyclonedx") {
  const dir = "@cyclonedx/cyclonedx-library/res/schema/";
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false, logger: false });
  addFormats(ajv);
  // The bom schema refers to its neighbours by relative URL.
  for (const name of ["spdx", "jsf-0.82", "cryptography-defs"]) {
    const schema = load(dir + name + ".SNAPSHOT.schema.json");
    delete schema.$id;
    ajv.addSchema(schema, "http://cyclonedx.org/schema/" + name + ".SNAPSHOT.schema.json");
  }
  validate = ajv.compile(load(dir + "bom-1.6.SNAPSHOT.schema.json"));
} else {
  console.error("usage: node validate.mjs sarif|cyclonedx FILE");
  process.exit(2);
}
const docs = Array.isArray(doc) && kind === "cyclonedx" ? doc : [doc];
let ok = true;
for (const d of docs) {
  if (!validate(d)) {
    ok = false;
    for (const e of validate.errors) console.log(`${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
  }
}
if (ok) console.log("valid");
process.exit(ok ? 0 : 1);
