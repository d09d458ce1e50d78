// Describes what the Chroma server on 127.0.0.1:PORT holds, as one JSON line:
//   node probe.js PORT
//   {"collections":[{"name","count","queries":[{ids,distances}],"problems":[...]}]}
// "problems" lists every way the collection differs from the first `count`
// records of the deterministic data set (ids, embeddings, documents,
// metadata); it is empty when the collection is exactly such a prefix.
import { client, document, embedding, id, metadata, query } from "./data.js";

const c = client(process.argv[2]);
const out = [];
for (const col of await c.listCollections()) {
  const name = col.name;
  const count = await col.count();
  const got = await col.get({ include: ["embeddings", "documents", "metadatas"] });
  out.push({ name, count, queries: await query(col), problems: check(name, count, got) });
}
out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
process.stdout.write(JSON.stringify({ collections: out }) + "\n");

function check(name, count, got) {
  const problems = [];
  if (got.ids.length !== count) {
    problems.push(`get returned ${got.ids.length} records, count says ${count}`);
  }
  const seen = new Set();
  got.ids.forEach((gid, k) => {
    const i = Number(gid.slice(name.length + 1));
    if (gid !== id(name, i) || !(i >= 0 && i < count)) {
      problems.push(`unexpected id ${gid}`);
      return;
    }
    seen.add(i);
    // The server prints float32 values in their shortest form: rounding
    // them back to float32 gives the stored value exactly.
    const want = embedding(name, i);
    const e = got.embeddings[k];
    if (!e || e.length !== want.length || e.some((v, d) => Math.fround(v) !== want[d])) {
      problems.push(`${gid}: embedding differs`);
    }
    if (got.documents[k] !== document(name, i)) {
      problems.push(`${gid}: document ${JSON.stringify(got.documents[k])}`);
    }
    const m = metadata(name, i);
    const gm = got.metadatas[k] || {};
    if (gm.collection !== m.collection || gm.n !== m.n) {
      problems.push(`${gid}: metadata ${JSON.stringify(gm)}`);
    }
  });
  for (let i = 0; i < count && problems.length < 20; i++) {
    if (!seen.has(i)) problems.push(`missing ${id(name, i)}`);
  }
  return problems.slice(0, 20);
}
