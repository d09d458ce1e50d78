// Runs a Chroma server in this process through the native binding's CLI:
//   node server.js --path DIR --port N
// The binding is required from this package, not through chromadb's own
// bin/chroma, so the pinned 1.0.1 core runs whatever chromadb resolves.
// The server ignores SIGTERM; stop it with SIGKILL (its writes are durable).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const binding = require("chromadb-js-bindings-linux-x64-gnu");

binding.cli(["chroma", "run", "--host", "127.0.0.1", ...process.argv.slice(2)]);
