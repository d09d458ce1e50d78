package sample

import (
	"database/sql"
	"math/rand/v2"
	"strings"
)

var modelIDs = []string{"llama3.1:8b", "qwen2.5:14b", "gpt-4o", "mistral-nemo:12b",
	"gemma3:27b", "deepseek-r1:14b"}

var tagNames = []string{"coding", "work", "research", "personal", "writing", "homelab",
	"travel", "finance", "learning", "docker"}

// chatMessage is one node of Open WebUI's chat.history tree, as the
// frontend saves it.
type chatMessage struct {
	ID          string     `json:"id"`
	ParentID    *string    `json:"parentId"`
	ChildrenIDs []string   `json:"childrenIds"`
	Role        string     `json:"role"`
	Content     string     `json:"content"`
	Timestamp   int64      `json:"timestamp"`
	Models      []string   `json:"models,omitempty"`
	Model       string     `json:"model,omitempty"`
	ModelName   string     `json:"modelName,omitempty"`
	ModelIdx    *int       `json:"modelIdx,omitempty"`
	Done        bool       `json:"done,omitempty"`
	Usage       *chatUsage `json:"usage,omitempty"`
}

type chatUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type chatHistory struct {
	Messages  map[string]*chatMessage `json:"messages"`
	CurrentID string                  `json:"currentId"`
}

// chatDoc is the chat column: the history tree plus the flat list of the
// current branch, both of which upstream stores.
type chatDoc struct {
	ID        string         `json:"id"`
	Title     string         `json:"title"`
	Models    []string       `json:"models"`
	Params    map[string]any `json:"params"`
	History   chatHistory    `json:"history"`
	Messages  []*chatMessage `json:"messages"`
	Tags      []string       `json:"tags"`
	Timestamp int64          `json:"timestamp"`
	Files     []any          `json:"files"`
}

// chatGen draws chats; it remembers the (tag, user) pairs it used so the
// tag rows can follow.
type chatGen struct {
	r       *rand.Rand
	tg      *textGen
	users   []user
	folders map[string][]string
	tags    map[[2]string]bool
}

// buildChat returns a chat document with 1–8 turns, now and then a
// regenerated answer that left a side branch in the tree.
func (g *chatGen) buildChat(start int64) *chatDoc {
	r := g.r
	model := pick(r, modelIDs)
	doc := &chatDoc{
		ID: newUUID(r), Models: []string{model}, Params: map[string]any{},
		History: chatHistory{Messages: map[string]*chatMessage{}},
		Tags:    []string{}, Timestamp: start * 1000, Files: []any{},
	}
	t := start
	var parent *chatMessage
	for range 1 + r.IntN(8) {
		u := g.newMessage(doc, parent, "user", int(logUniform(r, 20, 1500)), &t)
		u.Models = []string{model}
		doc.Messages = append(doc.Messages, u)
		answers := 1
		if r.IntN(12) == 0 {
			answers = 2
		}
		for range answers {
			a := g.newMessage(doc, u, "assistant", int(logUniform(r, 100, 6000)), &t)
			zero := 0
			a.Model, a.ModelName, a.ModelIdx, a.Done = model, model, &zero, true
			pt := len(u.Content) / 4
			ct := len(a.Content) / 4
			a.Usage = &chatUsage{PromptTokens: pt, CompletionTokens: ct, TotalTokens: pt + ct}
			parent = a
		}
		doc.Messages = append(doc.Messages, parent)
	}
	doc.History.CurrentID = parent.ID
	first := doc.Messages[0].Content
	doc.Title = g.tg.title()
	if len(first) < 40 {
		doc.Title = strings.TrimSpace(first)
	}
	return doc
}

func (g *chatGen) newMessage(doc *chatDoc, parent *chatMessage, role string, size int, t *int64) *chatMessage {
	*t += int64(5 + g.r.IntN(300))
	m := &chatMessage{ID: newUUID(g.r), Role: role, ChildrenIDs: []string{},
		Content: strings.TrimSpace(g.tg.markdown(size)), Timestamp: *t}
	if parent != nil {
		m.ParentID = &parent.ID
		parent.ChildrenIDs = append(parent.ChildrenIDs, m.ID)
	}
	doc.History.Messages[m.ID] = m
	return m
}

// allMessages lists every node of the tree, side branches included, in
// the order they were written.
func (d *chatDoc) allMessages() []*chatMessage {
	var out []*chatMessage
	for _, m := range d.Messages {
		if m.ParentID != nil && len(out) > 0 {
			for _, sib := range d.History.Messages[*m.ParentID].ChildrenIDs {
				if sib != m.ID {
					out = append(out, d.History.Messages[sib])
				}
			}
		}
		out = append(out, m)
	}
	return out
}

const (
	chatInsert = `INSERT INTO chat (id, user_id, title, created_at, updated_at, share_id, archived,
		chat, pinned, meta, folder_id, current_message_id) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)`
	chatMessageInsert = `INSERT INTO chat_message (id, chat_id, user_id, role, parent_id, content,
		model_id, done, usage, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// insertChats writes n chats and their chat_message rows; start dates
// each chat.
func (g *chatGen) insertChats(tx *sql.Tx, n int, start func() int64) error {
	ch, err := prepare(tx, "chat", chatInsert)
	if err != nil {
		return err
	}
	msg, err := prepare(tx, "chat_message", chatMessageInsert)
	if err != nil {
		return err
	}
	for range n {
		if err := g.insertChat(ch, msg, start()); err != nil {
			return err
		}
	}
	return nil
}

func (g *chatGen) insertChat(ch, msg *inserter, start int64) error {
	r := g.r
	u := pick(r, g.users)
	doc := g.buildChat(start)
	var tags []string
	for range max(0, r.IntN(4)-1) {
		tag := pick(r, tagNames)
		tags = append(tags, tag)
		g.tags[[2]string{tag, u.ID}] = true
	}
	meta := "{}"
	if len(tags) > 0 {
		meta = mustJSON(map[string]any{"tags": tags})
	}
	var folder any
	if fs := g.folders[u.ID]; len(fs) > 0 && r.IntN(5) == 0 {
		folder = pick(r, fs)
	}
	updated := doc.Messages[len(doc.Messages)-1].Timestamp
	err := ch.exec(doc.ID, u.ID, doc.Title, start, updated, r.IntN(20) == 0, mustJSON(doc),
		r.IntN(30) == 0, meta, folder, doc.History.CurrentID)
	if err != nil {
		return err
	}
	for _, m := range doc.allMessages() {
		var parent, model, usage any
		if m.ParentID != nil {
			parent = *m.ParentID
		}
		if m.Role == "assistant" {
			model, usage = m.Model, mustJSON(m.Usage)
		}
		err := msg.exec(m.ID, doc.ID, u.ID, m.Role, parent, mustJSON(m.Content), model, true, usage,
			m.Timestamp, m.Timestamp)
		if err != nil {
			return err
		}
	}
	return nil
}

// insertTags writes the tag rows the chats' meta.tags refer to.
func (g *chatGen) insertTags(tx *sql.Tx) error {
	ins, err := prepare(tx, "tag", `INSERT OR IGNORE INTO tag (id, name, user_id, meta) VALUES (?, ?, ?, NULL)`)
	if err != nil {
		return err
	}
	for _, name := range tagNames { // fixed order keeps the file deterministic
		for _, u := range g.users {
			if g.tags[[2]string{name, u.ID}] {
				if err := ins.exec(name, name, u.ID); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
