package sample

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// writeCache lays out a Hugging Face hub cache of the default embedding
// model, as Open WebUI's sentence-transformers download leaves it. The
// snapshot holds regular files rather than the hub's symlinks into blobs/.
func writeCache(dir string, opts Options) error {
	r := newRand(opts.Seed, streamCache, 0)
	commit := randHex(r, 20)
	model := filepath.Join(dir, "embedding", "models", "models--sentence-transformers--all-MiniLM-L6-v2")
	snap := filepath.Join(model, "snapshots", commit)
	tg := &textGen{r: r}
	small := map[string]string{
		filepath.Join(model, "refs", "main"):                  commit,
		filepath.Join(snap, "config.json"):                    `{"architectures":["BertModel"],"hidden_size":384,"num_hidden_layers":6,"vocab_size":30522}`,
		filepath.Join(snap, "modules.json"):                   `[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]`,
		filepath.Join(snap, "sentence_bert_config.json"):      `{"max_seq_length":256,"do_lower_case":false}`,
		filepath.Join(snap, "special_tokens_map.json"):        `{"cls_token":"[CLS]","mask_token":"[MASK]","pad_token":"[PAD]","sep_token":"[SEP]","unk_token":"[UNK]"}`,
		filepath.Join(snap, "tokenizer_config.json"):          `{"do_lower_case":true,"model_max_length":512,"tokenizer_class":"BertTokenizer"}`,
		filepath.Join(snap, "1_Pooling", "config.json"):       `{"word_embedding_dimension":384,"pooling_mode_mean_tokens":true}`,
		filepath.Join(snap, "vocab.txt"):                      strings.Join(words, "\n") + "\n",
		filepath.Join(snap, "tokenizer.json"):                 tg.markdown(max(4096, int(450e3*opts.Scale))),
		filepath.Join(dir, "whisper", "models", ".gitignore"): "*\n",
	}
	for path, content := range small {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("write cache: %w", err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write cache: %w", err)
		}
	}
	return writeSafetensors(filepath.Join(snap, "model.safetensors"), int64(cacheBytes*opts.Scale), opts.Seed)
}

// writeSafetensors writes a file with a safetensors header and random
// weights, size bytes in all.
func writeSafetensors(path string, size int64, seed int64) error {
	header := `{"__metadata__":{"format":"pt"},"embeddings.word_embeddings.weight":{"dtype":"F32","shape":[30522,384],"data_offsets":[0,0]}}`
	size = max(size, int64(len(header))+8)
	r := newRand(seed, streamCache, 1)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write cache: %w", err)
	}
	var hlen [8]byte
	binary.LittleEndian.PutUint64(hlen[:], uint64(len(header)))
	_, err = f.Write(append(hlen[:], header...))
	buf := make([]byte, chunkSize)
	for left := size - int64(len(header)) - 8; err == nil && left > 0; {
		n := min(left, int64(len(buf)))
		fillRandom(r, buf[:n])
		_, err = f.Write(buf[:n])
		left -= n
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write cache: %w", err)
	}
	return nil
}

var auditRoutes = []struct{ verb, uri string }{
	{"POST", "/api/chat/completions"}, {"POST", "/api/v1/chats/new"}, {"GET", "/api/v1/chats/"},
	{"POST", "/api/v1/files/"}, {"GET", "/api/models"}, {"POST", "/api/v1/auths/signin"},
	{"POST", "/api/v1/knowledge/create"}, {"POST", "/api/v1/memories/add"},
}

// writeAudit writes Open WebUI's audit log: one JSON object a line, at the
// METADATA level (no request or response bodies).
func writeAudit(path string, p *plan, opts Options) error {
	r := newRand(opts.Seed, streamAudit, 0)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write audit.log: %w", err)
	}
	w := bufio.NewWriterSize(f, chunkSize)
	target := int64(auditBytes * opts.Scale)
	t := baseTime - 30*24*3600
	for written := int64(0); written < target; {
		u := pick(r, p.users)
		route := pick(r, auditRoutes)
		t += int64(r.IntN(60))
		status := 200
		if r.IntN(40) == 0 {
			status = pick(r, []int{401, 404, 500})
		}
		line := mustJSON(map[string]any{
			"id": newUUID(r), "timestamp": t, "audit_level": "METADATA",
			"user": map[string]any{"id": u.ID, "name": u.Name, "email": u.Email, "role": u.Role},
			"verb": route.verb, "request_uri": "http://localhost:8080" + route.uri,
			"source_ip": fmt.Sprintf("172.18.0.%d", 2+r.IntN(200)),
			"user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " +
				"Chrome/131.0.0.0 Safari/537.36",
			"request_object": "", "response_object": "", "response_status_code": status,
		}) + "\n"
		n, err := w.WriteString(line)
		if err != nil {
			f.Close()
			return fmt.Errorf("write audit.log: %w", err)
		}
		written += int64(n)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write audit.log: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write audit.log: %w", err)
	}
	return nil
}
