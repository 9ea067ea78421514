// Generates the CosmJS contract clients in src/contracts/ from ../schema/ with @cosmwasm/ts-codegen
// (pinned at 1.12.1, the last version that emits CosmJS clients). --check generates into a temporary
// folder and fails when the committed files differ (like scripts/schema --check).
import tsCodegen from "@cosmwasm/ts-codegen";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const web = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const schemaRoot = resolve(web, "../schema");
const committed = join(web, "src/contracts");
const check = process.argv.includes("--check");
// The access contract has a query and an execute message both named `grant` (and `emergency_access`);
// ts-codegen's EhrAccessClient extends EhrAccessQueryClient, so its execute methods override the query
// methods of the same name, which TypeScript rejects, and the clients import types they do not use.
// So the generated clients are not type-checked (the .types.ts files are), and the UI sends those two
// queries through EhrAccessQueryClient.
const NO_CHECK = "// @ts-nocheck -- generated; see web/scripts/codegen.mjs\n";
const contracts = [
  { name: "EhrRegistry", schema: "ehr-registry" },
  { name: "EhrAccess", schema: "ehr-access" },
];

const work = mkdtempSync(join(tmpdir(), "ehr-codegen-"));
try {
  // Each schema folder also holds cw_schema/ and raw/; ts-codegen wants exactly the one IDL file.
  const inputs = contracts.map(({ name, schema }) => {
    const dir = join(work, "schema", schema);
    mkdirSync(dir, { recursive: true });
    cpSync(join(schemaRoot, schema, `${schema}.json`), join(dir, `${schema}.json`));
    return { name, dir };
  });
  const outPath = check ? join(work, "out") : committed;
  if (!check) rmSync(committed, { recursive: true, force: true });
  await (tsCodegen.default ?? tsCodegen)({
    contracts: inputs,
    outPath,
    options: {
      bundle: { enabled: false },
      types: { enabled: true },
      client: { enabled: true },
      reactQuery: { enabled: false },
      recoil: { enabled: false },
      messageComposer: { enabled: false },
      messageBuilder: { enabled: false },
      useContractsHook: { enabled: false },
    },
  });
  for (const f of readdirSync(outPath).filter((f) => f.endsWith(".client.ts"))) {
    writeFileSync(join(outPath, f), NO_CHECK + readFileSync(join(outPath, f), "utf8"));
  }
  if (check) {
    const list = (d) => readdirSync(d).sort();
    const want = list(outPath), have = list(committed);
    const drift = [...new Set([...want, ...have])].filter(
      (f) => !want.includes(f) || !have.includes(f) || readFileSync(join(outPath, f), "utf8") !== readFileSync(join(committed, f), "utf8"),
    );
    if (drift.length) {
      console.error(`contract clients differ from schema/: ${drift.join(", ")} (run: npm run codegen)`);
      process.exit(1);
    }
    console.log(`contract clients match schema/ (${want.length} files)`);
  } else {
    console.log(`generated ${readdirSync(committed).join(", ")} in src/contracts/`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
