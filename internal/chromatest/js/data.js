// The deterministic data set the writer adds and the probe checks: every
// collection's record i has id `${name}-${i}`, a generated embedding, a
// document and a metadata entry, all functions of (name, i) alone, so any
// prefix of a collection can be checked without remembering what was sent.
import { ChromaClient } from "chromadb";

// DIM is the embedding dimension; Open WebUI's are wider, but the segment
// files grow the same way and the tests stay fast.
export const DIM = 64;
// K is how many nearest neighbours each query asks for.
export const K = 5;
// QUERIES is how many fixed query vectors each collection is asked about.
export const QUERIES = 4;

// COLLECTIONS lists the collections, how many records each add request
// sends, and their HNSW configuration. A wide ef_search makes the
// approximate search exact on collections this small, so two servers
// holding the same records give the same answers. "docs" goes well past
// 1,000 records, and its index is persisted (header.bin, data_level0.bin,
// length.bin, link_lists.bin rewritten, the queue in chroma.sqlite3
// purged) every sync_threshold records: far more often than Chroma's
// default of 1,000, so that captures straddle persists. The others keep
// Chroma's defaults, their newest vectors in the queue.
export const COLLECTIONS = [
  { name: "docs", perBatch: 100, hnsw: { ef_search: 400, ef_construction: 200, batch_size: 100, sync_threshold: 100 } },
  { name: "memories", perBatch: 5, hnsw: { ef_search: 400 } },
  { name: "notes", perBatch: 10, hnsw: { ef_search: 400 } },
];

export function client(port) {
  return new ChromaClient({ host: "127.0.0.1", port: Number(port), ssl: false });
}

export function id(name, i) {
  return `${name}-${i}`;
}

export function document(name, i) {
  return `record ${i} of ${name}`;
}

export function metadata(name, i) {
  return { collection: name, n: i };
}

// embedding returns float32-exact numbers so what Chroma stores as float32
// reads back equal.
export function embedding(name, i) {
  const next = mulberry32(fnv1a(`${name}/${i}`));
  return Array.from({ length: DIM }, () => Math.fround(next() * 2 - 1));
}

export function queryVectors(name) {
  return Array.from({ length: QUERIES }, (_, j) => embedding(`${name}/query`, j));
}

// query asks a collection for the K nearest neighbours of its query vectors.
export async function query(col) {
  const r = await col.query({
    queryEmbeddings: queryVectors(col.name),
    nResults: K,
    include: ["distances"],
  });
  return r.ids.map((ids, j) => ({ ids, distances: r.distances[j] }));
}

function fnv1a(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
