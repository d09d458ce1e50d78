// Adds batches to the Chroma server on 127.0.0.1:PORT until stdin closes:
//   node writer.js PORT [BURST PAUSE_MS]
// With BURST > 0 it pauses PAUSE_MS after every BURST add requests, the way
// Open WebUI writes: a burst of chunks per uploaded file, then quiet.
// First, and after each acknowledged add request, it prints one JSON line, a
// state the source held until the next request was sent:
//   {"seq":k,"sent":ms,"counts":{name:n},"queries":{name:[{ids,distances}]}}
// "sent" is the wall clock (ms since the epoch) just before the request that
// made the state: the state held from some moment after "sent" until the next
// request committed. Closing stdin stops the writer after the request in
// flight.
import { COLLECTIONS, client, document, embedding, id, metadata, query } from "./data.js";

const port = process.argv[2];
const burst = Number(process.argv[3] || 0);
const pause = Number(process.argv[4] || 0);
const c = client(port);

let stopping = false;
process.stdin.on("end", () => (stopping = true));
process.stdin.on("data", () => {});
process.stdin.resume();

const start = Date.now();
const cols = [];
for (const spec of COLLECTIONS) {
  const col = await c.getOrCreateCollection({
    name: spec.name,
    embeddingFunction: null,
    configuration: { hnsw: spec.hnsw },
  });
  cols.push({ spec, col, count: await col.count() });
}

// The initial state: the collections as they were found.
const counts = {};
const queries = {};
for (const x of cols) {
  counts[x.spec.name] = x.count;
  queries[x.spec.name] = await query(x.col);
}
let seq = 0;
print(start);

// One add request per state: each request commits on its own, so a moment
// between two requests is a state the source holds.
while (!stopping) {
  for (const x of cols) {
    if (stopping) break;
    const name = x.spec.name;
    const range = Array.from({ length: x.spec.perBatch }, (_, k) => x.count + k);
    const sent = Date.now();
    await x.col.add({
      ids: range.map((i) => id(name, i)),
      embeddings: range.map((i) => embedding(name, i)),
      documents: range.map((i) => document(name, i)),
      metadatas: range.map((i) => metadata(name, i)),
    });
    x.count += range.length;
    counts[name] = x.count;
    queries[name] = await query(x.col);
    seq++;
    print(sent);
    if (burst > 0 && seq % burst === 0) {
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

function print(sent) {
  process.stdout.write(JSON.stringify({ seq, sent, counts, queries }) + "\n");
}
