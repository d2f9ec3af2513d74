// Reads an Arrow IPC file that `sluice quarantine export --format arrow`
// wrote, with the apache-arrow JavaScript library, an implementation
// independent of arrow-go, and checks it against what was sent:
//
//   node read.mjs EXPORT.arrow EXPECTED.json
//
// EXPECTED.json is {"batch": ID, "layout": "rows"|"records", "rows": [...]},
// each row an object of the columns to check, as plain JSON: strings,
// numbers, booleans, null, objects for structs and maps (map values as
// UTF-8 text). The schema metadata must hold the decision of batch ID
// ("sluice.decision") and the layout ("sluice.layout"). Exits 1 with the
// first difference, 0 when every row matches.
import { readFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';

const [file, expectedFile] = process.argv.slice(2);
if (!file || !expectedFile) {
  console.error('usage: node read.mjs EXPORT.arrow EXPECTED.json');
  process.exit(2);
}
const expected = JSON.parse(readFileSync(expectedFile, 'utf8'));
const table = tableFromIPC(readFileSync(file));

function fail(msg) {
  console.error(`MISMATCH: ${msg}`);
  process.exit(1);
}

const decision = JSON.parse(table.schema.metadata.get('sluice.decision') ?? 'null');
if (!decision || decision.batch !== expected.batch) {
  fail(`sluice.decision is ${JSON.stringify(decision)}, want batch ${expected.batch}`);
}
if (table.schema.metadata.get('sluice.layout') !== expected.layout) {
  fail(`sluice.layout is ${table.schema.metadata.get('sluice.layout')}, want ${expected.layout}`);
}

const text = new TextDecoder('utf-8', { fatal: true });

// plain turns what apache-arrow gives for a value into plain JSON.
function plain(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return text.decode(v);
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'object') {
    if (typeof v[Symbol.iterator] === 'function') {
      // a StructRow or a MapRow iterates [key, value] entries; a list, values
      const entries = [...v];
      if (entries.every((e) => Array.isArray(e) && e.length === 2)) {
        return Object.fromEntries(entries.map(([k, x]) => [k, plain(x)]));
      }
      return entries.map(plain);
    }
    const j = typeof v.toJSON === 'function' ? v.toJSON() : v;
    return Object.fromEntries(Object.entries(j).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

// canon is JSON with object keys sorted, to compare objects by content.
function canon(v) {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

if (table.numRows !== expected.rows.length) {
  fail(`${table.numRows} rows, want ${expected.rows.length}`);
}
for (let i = 0; i < expected.rows.length; i++) {
  const row = table.get(i);
  for (const [col, want] of Object.entries(expected.rows[i])) {
    if (!table.schema.fields.some((f) => f.name === col)) fail(`no column ${col}`);
    const got = plain(row[col]);
    if (canon(got) !== canon(want)) {
      fail(`row ${i} column ${col}: got ${canon(got)}, want ${canon(want)}`);
    }
  }
}
console.log(`${file}: ${table.numRows} rows match (${expected.layout}, batch ${expected.batch}); columns ${table.schema.fields.map((f) => `${f.name}: ${f.type}`).join(', ')}`);
