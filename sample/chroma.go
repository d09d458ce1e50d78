package sample

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

//go:embed testdata/vector_db-chroma-1.5.9.tar.gz
var chromaTarball []byte

// writeVectorDB extracts the real Chroma directory into dir and adds one
// collection per knowledge base, cloned from the fixture's persisted one.
func writeVectorDB(dir string, kbs []knowledgeBase, seed int64) error {
	if err := extractTarball(filepath.Dir(dir), chromaTarball, "vector_db"); err != nil {
		return fmt.Errorf("extract vector_db: %w", err)
	}
	db, err := openDB(filepath.Join(dir, "chroma.sqlite3"))
	if err != nil {
		return err
	}
	src, err := findCloneSource(db)
	if err == nil {
		r := newRand(seed, streamChroma, 0)
		for _, kb := range kbs {
			if err = cloneCollection(db, dir, src, kb.ID, r); err != nil {
				break
			}
		}
	}
	if cerr := closeDB(db); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("grow vector_db: %w", err)
	}
	return nil
}

// extractTarball writes the entries of a .tar.gz below root; every entry
// must lie under top.
func extractTarball(root string, tgz []byte, top string) error {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if name != top && !strings.HasPrefix(name, top+string(filepath.Separator)) {
			return fmt.Errorf("unexpected entry %q", h.Name)
		}
		path := filepath.Join(root, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := writeSparse(path, tr, h.Size); err != nil {
				return err
			}
		}
	}
}

// writeSparse copies n bytes from r into a new file, seeking over blocks of
// zeros so that files like link_lists.bin stay sparse where they were.
func writeSparse(path string, r io.Reader, n int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	buf := make([]byte, 4096)
	var zero [4096]byte
	for off := int64(0); off < n; {
		k, err := io.ReadFull(r, buf[:min(int64(len(buf)), n-off)])
		if err != nil {
			f.Close()
			return err
		}
		if bytes.Equal(buf[:k], zero[:k]) {
			_, err = f.Seek(int64(k), io.SeekCurrent)
		} else {
			_, err = f.Write(buf[:k])
		}
		if err != nil {
			f.Close()
			return err
		}
		off += int64(k)
	}
	if err := f.Truncate(n); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cloneSource is the fixture collection that passed the persist threshold:
// its vectors live in the segment directory, not only in the queue.
type cloneSource struct {
	collection, name, vectorSeg, metadataSeg string
}

func findCloneSource(db *sql.DB) (cloneSource, error) {
	var s cloneSource
	err := db.QueryRow(`SELECT c.id, c.name, v.id, m.id FROM collections c
		JOIN segments v ON v.collection = c.id AND v.scope = 'VECTOR'
		JOIN segments m ON m.collection = c.id AND m.scope = 'METADATA'
		ORDER BY (SELECT count(*) FROM embeddings e WHERE e.segment_id = m.id) DESC LIMIT 1`,
	).Scan(&s.collection, &s.name, &s.vectorSeg, &s.metadataSeg)
	if err != nil {
		return s, fmt.Errorf("find collection to clone: %w", err)
	}
	return s, nil
}

// cloneCollection copies src's rows in chroma.sqlite3 under new collection
// and segment ids, named name, and copies its segment directory. Embedding
// ids, documents and queue topics have src's name replaced by name (both
// are 36-character ids, so index_metadata.pickle stays valid after a byte
// replacement). Row ids and seq_ids move past the current maxima.
func cloneCollection(db *sql.DB, dir string, src cloneSource, name string, r *rand.Rand) error {
	if len(name) != len(src.name) {
		return fmt.Errorf("clone name %q: want %d characters like %q", name, len(src.name), src.name)
	}
	coll, vseg, mseg := newUUID(r), newUUID(r), newUUID(r)
	if err := copySegmentDir(filepath.Join(dir, src.vectorSeg), filepath.Join(dir, vseg), src.name, name); err != nil {
		return err
	}
	return inTx(db, func(tx *sql.Tx) error {
		var idOff, seqOff int64
		err := tx.QueryRow(`SELECT
			(SELECT max(id) FROM embeddings) + 1 - (SELECT min(id) FROM embeddings WHERE segment_id = ?1),
			max((SELECT max(seq_id) FROM embeddings), (SELECT coalesce(max(seq_id), 0) FROM embeddings_queue),
				(SELECT max(seq_id) FROM max_seq_id)) + 1
				- (SELECT min(seq_id) FROM embeddings WHERE segment_id = ?1)`, src.metadataSeg).Scan(&idOff, &seqOff)
		if err != nil {
			return fmt.Errorf("read id ranges: %w", err)
		}
		oldTopic := "persistent://default/default/" + src.collection
		newTopic := "persistent://default/default/" + coll
		stmts := []struct {
			q    string
			args []any
		}{
			{`INSERT INTO collections (id, name, dimension, database_id, config_json_str, schema_str)
				SELECT ?, ?, dimension, database_id, config_json_str, schema_str FROM collections WHERE id = ?`,
				[]any{coll, name, src.collection}},
			{`INSERT INTO collection_metadata SELECT ?, key, str_value, int_value, float_value, bool_value
				FROM collection_metadata WHERE collection_id = ?`, []any{coll, src.collection}},
			{`INSERT INTO segments (id, type, scope, collection) SELECT CASE scope WHEN 'VECTOR' THEN ? ELSE ? END,
				type, scope, ? FROM segments WHERE collection = ?`, []any{vseg, mseg, coll, src.collection}},
			{`INSERT INTO segment_metadata SELECT CASE segment_id WHEN ? THEN ? ELSE ? END, key, str_value,
				int_value, float_value, bool_value FROM segment_metadata WHERE segment_id IN (?, ?)`,
				[]any{src.vectorSeg, vseg, mseg, src.vectorSeg, src.metadataSeg}},
			{`INSERT INTO max_seq_id SELECT CASE segment_id WHEN ? THEN ? ELSE ? END, seq_id + ?
				FROM max_seq_id WHERE segment_id IN (?, ?)`,
				[]any{src.vectorSeg, vseg, mseg, seqOff, src.vectorSeg, src.metadataSeg}},
			{`INSERT INTO embeddings (id, segment_id, embedding_id, seq_id, created_at)
				SELECT id + ?, ?, replace(embedding_id, ?, ?), seq_id + ?, created_at
				FROM embeddings WHERE segment_id = ?`,
				[]any{idOff, mseg, src.name, name, seqOff, src.metadataSeg}},
			{`INSERT INTO embedding_metadata SELECT m.id + ?, m.key, replace(m.string_value, ?, ?),
				m.int_value, m.float_value, m.bool_value FROM embedding_metadata m
				JOIN embeddings e ON e.id = m.id WHERE e.segment_id = ?`,
				[]any{idOff, src.name, name, src.metadataSeg}},
			{`INSERT INTO embedding_metadata_array SELECT m.id + ?, m.key, replace(m.string_value, ?, ?),
				m.int_value, m.float_value, m.bool_value FROM embedding_metadata_array m
				JOIN embeddings e ON e.id = m.id WHERE e.segment_id = ?`,
				[]any{idOff, src.name, name, src.metadataSeg}},
			{`INSERT INTO embedding_fulltext_search (rowid, string_value)
				SELECT f.id + ?, replace(f.c0, ?, ?) FROM embedding_fulltext_search_content f
				JOIN embeddings e ON e.id = f.id WHERE e.segment_id = ?`,
				[]any{idOff, src.name, name, src.metadataSeg}},
			{`INSERT INTO embeddings_queue (seq_id, created_at, operation, topic, id, vector, encoding, metadata)
				SELECT seq_id + ?, created_at, operation, ?, replace(id, ?, ?), vector, encoding,
				replace(metadata, ?, ?) FROM embeddings_queue WHERE topic = ?`,
				[]any{seqOff, newTopic, src.name, name, src.name, name, oldTopic}},
		}
		for _, s := range stmts {
			if _, err := tx.Exec(s.q, s.args...); err != nil {
				return fmt.Errorf("clone collection: %w", err)
			}
		}
		return nil
	})
}

// copySegmentDir copies an HNSW segment directory, rewriting the
// collection's name inside index_metadata.pickle.
func copySegmentDir(from, to, oldName, newName string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	if err := os.Mkdir(to, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if e.Name() == "index_metadata.pickle" {
			b = bytes.ReplaceAll(b, []byte(oldName), []byte(newName))
		}
		if err := writeSparse(filepath.Join(to, e.Name()), bytes.NewReader(b), int64(len(b))); err != nil {
			return err
		}
	}
	return nil
}
