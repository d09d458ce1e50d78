package sample

import (
	"database/sql"
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
)

//go:embed testdata/webui-0.11.0-schema.db
var emptyWebUIDB []byte

// chatsPerTx bounds a transaction: large enough that commits are rare,
// small enough that the page cache never spills.
const chatsPerTx = 500

func writeWebUI(path string, p *plan, opts Options) (err error) {
	if err := os.WriteFile(path, emptyWebUIDB, 0o644); err != nil {
		return fmt.Errorf("write webui.db: %w", err)
	}
	db, err := openDB(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeDB(db); err == nil {
			err = cerr
		}
	}()
	// Bulk load without a journal (a failed generation is thrown away),
	// then switch to WAL, the mode Open WebUI has used since v0.9.0.
	if err := execAll(db, "PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF"); err != nil {
		return err
	}
	r := newRand(opts.Seed, streamChats, 0)
	g := &chatGen{r: r, tg: &textGen{r: r}, users: p.users, tags: map[[2]string]bool{}}
	err = inTx(db, func(tx *sql.Tx) error {
		return insertStatic(tx, r, p, opts)
	})
	if err != nil {
		return err
	}
	g.folders, err = insertFolders(db, g)
	if err != nil {
		return err
	}
	for done := 0; done < p.chats; done += chatsPerTx {
		n := min(chatsPerTx, p.chats-done)
		err := inTx(db, func(tx *sql.Tx) error {
			return g.insertChats(tx, n, func() int64 { return baseTime - int64(r.IntN(year)) })
		})
		if err != nil {
			return err
		}
	}
	if err := inTx(db, g.insertTags); err != nil {
		return err
	}
	return execAll(db, "PRAGMA journal_mode=WAL")
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain maps and structs are marshalled here
	}
	return string(b)
}

// insertStatic writes users and their auth rows, config, files,
// knowledge bases, memories and prompts.
func insertStatic(tx *sql.Tx, r *rand.Rand, p *plan, opts Options) error {
	if err := insertUsers(tx, r, p.users); err != nil {
		return err
	}
	if err := insertFiles(tx, r, p.uploads, opts.UploadPathPrefix); err != nil {
		return err
	}
	if err := insertKnowledge(tx, r, p); err != nil {
		return err
	}
	if err := insertMemories(tx, r, p.users); err != nil {
		return err
	}
	if err := insertPrompts(tx, r, p.users[0]); err != nil {
		return err
	}
	return insertConfig(tx)
}

func insertUsers(tx *sql.Tx, r *rand.Rand, users []user) error {
	ins, err := prepare(tx, "user", `INSERT INTO user (id, name, email, role, profile_image_url,
		last_active_at, updated_at, created_at, username, settings, info, oauth)
		VALUES (?, ?, ?, ?, '/user.png', ?, ?, ?, NULL, ?, NULL, NULL)`)
	if err != nil {
		return err
	}
	auth, err := prepare(tx, "auth", `INSERT INTO auth (id, email, password, active) VALUES (?, ?, ?, 1)`)
	if err != nil {
		return err
	}
	for _, u := range users {
		settings := mustJSON(map[string]any{"ui": map[string]any{
			"models": []string{pick(r, modelIDs)}, "theme": pick(r, []string{"dark", "light", "system"}),
			"chatBubble": r.IntN(2) == 0, "notificationEnabled": false,
		}})
		last := baseTime - int64(r.IntN(30*24*3600))
		if err := ins.exec(u.ID, u.Name, u.Email, u.Role, last, last, u.Created, settings); err != nil {
			return err
		}
		// A bcrypt-shaped hash of nothing: the demo's users cannot log in.
		hash := "$2b$12$" + randHex(r, 27)[:53]
		if err := auth.exec(u.ID, u.Email, hash); err != nil {
			return err
		}
	}
	return nil
}

// fileRowInsert is shared by Generate and AddUploads.
const fileRowInsert = `INSERT INTO file (id, user_id, filename, meta, created_at, hash, data, updated_at, path)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

func insertFiles(tx *sql.Tx, r *rand.Rand, ups []upload, prefix string) error {
	ins, err := prepare(tx, "file", fileRowInsert)
	if err != nil {
		return err
	}
	for _, u := range ups {
		if err := ins.exec(fileRowArgs(r, u, prefix)...); err != nil {
			return err
		}
	}
	return nil
}

// fileRowArgs is the file row Open WebUI writes after saving an upload.
// hash is random: upstream hashes the extracted text, which is not worth
// computing for synthetic files.
func fileRowArgs(r *rand.Rand, u upload, prefix string) []any {
	meta := mustJSON(map[string]any{
		"name": u.Name, "content_type": u.ContentType, "size": u.Size,
		"data": map[string]any{}, "collection_name": "file-" + u.ID,
	})
	data := mustJSON(map[string]any{"status": "completed", "content": excerpt(r)})
	path := prefix + "/" + u.fileName()
	return []any{u.ID, u.UserID, u.Name, meta, u.Created, randHex(r, 32), data, u.Created, path}
}

func insertKnowledge(tx *sql.Tx, r *rand.Rand, p *plan) error {
	kn, err := prepare(tx, "knowledge", `INSERT INTO knowledge (id, user_id, name, description, meta,
		created_at, updated_at, data) VALUES (?, ?, ?, ?, NULL, ?, ?, NULL)`)
	if err != nil {
		return err
	}
	kf, err := prepare(tx, "knowledge_file", `INSERT INTO knowledge_file (id, user_id, knowledge_id,
		file_id, created_at, updated_at, directory_id) VALUES (?, ?, ?, ?, ?, ?, NULL)`)
	if err != nil {
		return err
	}
	for _, k := range p.knowledge {
		if err := kn.exec(k.ID, k.UserID, k.Name, k.Description, k.Created, k.Created); err != nil {
			return err
		}
		seen := map[int]bool{}
		for _, i := range k.Files {
			if seen[i] {
				continue
			}
			seen[i] = true
			if err := kf.exec(newUUID(r), k.UserID, k.ID, p.uploads[i].ID, k.Created, k.Created); err != nil {
				return err
			}
		}
	}
	return nil
}

func insertMemories(tx *sql.Tx, r *rand.Rand, users []user) error {
	ins, err := prepare(tx, "memory", `INSERT INTO memory (id, user_id, content, updated_at, created_at,
		type, path, meta) VALUES (?, ?, ?, ?, ?, 'context', NULL, NULL)`)
	if err != nil {
		return err
	}
	tg := &textGen{r: r}
	for _, u := range users {
		for range r.IntN(12) {
			t := baseTime - int64(r.IntN(year))
			if err := ins.exec(newUUID(r), u.ID, tg.markdown(40+r.IntN(160)), t, t); err != nil {
				return err
			}
		}
	}
	return nil
}

var promptCommands = []string{"summarize", "translate", "explain-code", "review", "email-reply",
	"meeting-notes", "sql-helper", "commit-message"}

func insertPrompts(tx *sql.Tx, r *rand.Rand, admin user) error {
	ins, err := prepare(tx, "prompt", `INSERT INTO prompt (id, command, user_id, name, content, data,
		meta, is_active, version_id, tags, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, NULL, NULL, 1, NULL, '[]', ?, ?)`)
	if err != nil {
		return err
	}
	tg := &textGen{r: r}
	for _, c := range promptCommands {
		t := baseTime - int64(r.IntN(year))
		if err := ins.exec(newUUID(r), "/"+c, admin.ID, c, tg.markdown(300), t, t); err != nil {
			return err
		}
	}
	return nil
}

func insertConfig(tx *sql.Tx) error {
	rows := map[string]any{
		"version": 0,
		"ui": map[string]any{"enable_signup": false, "default_locale": "en-US",
			"default_models": modelIDs[0], "prompt_suggestions": []any{}},
		"rag": map[string]any{"embedding_engine": "", "embedding_model": "sentence-transformers/all-MiniLM-L6-v2",
			"chunk_size": 1000, "chunk_overlap": 100, "top_k": 3, "vector_db": "chroma"},
		"ollama":  map[string]any{"enable": true, "base_urls": []string{"http://ollama:11434"}},
		"openai":  map[string]any{"enable": false, "api_base_urls": []string{"https://api.openai.com/v1"}},
		"audio":   map[string]any{"stt": map[string]any{"engine": "", "model": "base"}},
		"auth":    map[string]any{"jwt_expiry": "4w", "api_key": map[string]any{"enable": false}},
		"webhook": map[string]any{"url": ""},
	}
	ins, err := prepare(tx, "config", `INSERT INTO config (key, value, updated_at) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	for _, k := range []string{"version", "ui", "rag", "ollama", "openai", "audio", "auth", "webhook"} {
		if err := ins.exec(k, mustJSON(rows[k]), baseTime-year); err != nil {
			return err
		}
	}
	return nil
}

// insertFolders gives some users a few folders and returns them by user.
func insertFolders(db *sql.DB, g *chatGen) (map[string][]string, error) {
	folders := map[string][]string{}
	err := inTx(db, func(tx *sql.Tx) error {
		ins, err := prepare(tx, "folder", `INSERT INTO folder (id, parent_id, user_id, name, items,
			meta, is_expanded, created_at, updated_at, data) VALUES (?, NULL, ?, ?, NULL, NULL, 0, ?, ?, NULL)`)
		if err != nil {
			return err
		}
		for _, u := range g.users {
			for range g.r.IntN(4) {
				id, t := newUUID(g.r), baseTime-int64(g.r.IntN(year))
				if err := ins.exec(id, u.ID, g.tg.title(), t, t); err != nil {
					return err
				}
				folders[u.ID] = append(folders[u.ID], id)
			}
		}
		return nil
	})
	return folders, err
}
