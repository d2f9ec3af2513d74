// Writes an Arrow IPC stream with the apache-arrow JavaScript library, an
// implementation independent of arrow-go, for Sluice to judge:
//
//   node write.mjs OUT.arrows EXPECTED.json
//
// OUT.arrows holds two record batches of the columns below (a Kafka record
// value of an Arrow feed); the second batch has three null emails.
// EXPECTED.json holds the rows as JSON, with a dot path for the struct
// field ("contact.email"), for the Go test to compare Sluice's values with.
import { writeFileSync } from 'node:fs';
import {
  Bool, Dictionary, Field, Float64, Int32, Int64, Struct, Utf8, makeTable, tableToIPC, vectorFromArray,
} from 'apache-arrow';

const [out, expected] = process.argv.slice(2);
if (!out || !expected) {
  console.error('usage: node write.mjs OUT.arrows EXPECTED.json');
  process.exit(2);
}

const companies = ['Acme', 'Globex', 'Initech'];

function batch(first, n, nullEmails) {
  const rows = [];
  for (let i = first; i < first + n; i++) {
    rows.push({
      email: i - first < nullEmails ? null : `user${i}@example.com`,
      'contact.email': i % 4 === 3 ? null : `c${i}@example.org`,
      company: i % 5 === 4 ? null : companies[i % companies.length],
      n: i * 1000 - 7,
      big: 2 ** 40 + i,
      score: i % 3 === 0 ? null : i / 4,
      active: i % 2 === 0,
      name: `Zoë ${i} — "quoted"`,
    });
  }
  const table = makeTable({
    email: vectorFromArray(rows.map((r) => r.email), new Utf8()),
    contact: vectorFromArray(rows.map((r) => ({ email: r['contact.email'] })),
      new Struct([new Field('email', new Utf8(), true)])),
    company: vectorFromArray(rows.map((r) => r.company), new Dictionary(new Utf8(), new Int32())),
    n: vectorFromArray(rows.map((r) => r.n), new Int32()),
    big: vectorFromArray(rows.map((r) => BigInt(r.big)), new Int64()),
    score: vectorFromArray(rows.map((r) => r.score), new Float64()),
    active: vectorFromArray(rows.map((r) => r.active), new Bool()),
    name: vectorFromArray(rows.map((r) => r.name), new Utf8()),
  });
  return { rows, table };
}

const a = batch(0, 6, 0);
const b = batch(6, 6, 3);
// One table of two record batches: the writer sends the schema once, and
// each batch's dictionary as it comes.
const table = a.table.concat(b.table);
if (table.batches.length !== 2) throw new Error(`${table.batches.length} batches`);
writeFileSync(out, tableToIPC(table, 'stream'));
writeFileSync(expected, JSON.stringify([...a.rows, ...b.rows], null, 1));
console.log(`wrote ${a.rows.length + b.rows.length} rows in 2 record batches to ${out}`);
