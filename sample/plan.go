package sample

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// baseTime is the generator's "now" (2026-01-01T00:00:00Z): generated rows
// are dated in the year before it, so the content does not depend on the
// clock. AddUploads and AddChats date their rows at the real time.
const baseTime int64 = 1767225600

const year = 365 * 24 * 3600

type user struct {
	ID, Name, Email, Role string
	Created               int64
}

type upload struct {
	ID, Name, ContentType, UserID string
	Size, Created                 int64
}

type knowledgeBase struct {
	ID, UserID, Name, Description string
	Created                       int64
	Files                         []int // indexes into plan.uploads
}

// plan is what the parts of the tree must agree on: the database rows
// that describe the uploads, the knowledge bases that own Chroma
// collections, the users the audit log names.
type plan struct {
	users     []user
	uploads   []upload
	knowledge []knowledgeBase
	chats     int
}

func newPlan(opts Options) *plan {
	r := newRand(opts.Seed, streamPlan, 0)
	tg := &textGen{r: r}
	p := &plan{chats: scaled(chatsCount, opts.Scale, 3)}
	for i := range scaled(usersCount, opts.Scale, 2) {
		p.users = append(p.users, newUser(r, i, baseTime-year-int64(r.IntN(year/4))))
	}
	p.uploads = drawUploads(r, p.users, scaled(uploadsCount, opts.Scale, 6), func() int64 {
		return baseTime - int64(r.IntN(year))
	})
	normalizeSizes(p.uploads, int64(uploadsBytes*opts.Scale))
	for range scaled(chromaClones, opts.Scale, 1) {
		owner := pick(r, p.users)
		kb := knowledgeBase{
			ID: newUUID(r), UserID: owner.ID, Name: tg.title(),
			Description: tg.markdown(80), Created: baseTime - int64(r.IntN(year)),
		}
		for range 1 + r.IntN(8) {
			kb.Files = append(kb.Files, r.IntN(len(p.uploads)))
		}
		p.knowledge = append(p.knowledge, kb)
	}
	return p
}

var firstNames = []string{"Ana", "Ben", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana",
	"Ivan", "Jules", "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa",
	"Sven", "Tomoko", "Ugo", "Vera", "Wei", "Xenia", "Yusuf", "Zoë"}

var lastNames = []string{"Almeida", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "García",
	"Huang", "Ito", "Jansen", "Kowalski", "Larsen", "Müller", "Novak", "Okafor", "Petrov",
	"Rossi", "Silva", "Tanaka", "Weber"}

func newUser(r *rand.Rand, i int, created int64) user {
	first, last := pick(r, firstNames), pick(r, lastNames)
	role := "user"
	if i == 0 {
		role = "admin" // Open WebUI makes the first sign-up the admin
	} else if r.IntN(20) == 0 {
		role = "pending"
	}
	email := fmt.Sprintf("%s.%s%d@example.com", strings.ToLower(first), strings.ToLower(last), i)
	return user{ID: newUUID(r), Name: first + " " + last, Email: email, Role: role, Created: created}
}

type fileKind struct {
	ext, contentType string
	binary           bool
}

var fileKinds = []fileKind{
	{".pdf", "application/pdf", true},
	{".pdf", "application/pdf", true},
	{".txt", "text/plain", false},
	{".md", "text/markdown", false},
	{".md", "text/markdown", false},
	{".csv", "text/csv", false},
	{".png", "image/png", true},
	{".jpg", "image/jpeg", true},
	{".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", true},
	{".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", true},
}

var nameStems = []string{"Quarterly Report", "meeting-notes", "invoice", "README", "architecture",
	"Screenshot 2025-11-03 at 10.42.17", "onboarding guide", "budget_2026", "paper", "résumé",
	"Übersicht", "spec v2 (final)", "export", "diagram", "contract", "lecture 07", "数据报告", "notes"}

// drawUploads picks n uploads: mostly small text and documents, a few
// multi-megabyte PDFs, images and slide decks.
func drawUploads(r *rand.Rand, users []user, n int, created func() int64) []upload {
	out := make([]upload, 0, n)
	for i := range n {
		var size float64
		switch k := r.IntN(100); {
		case k < 80:
			size = logUniform(r, 500, 200e3)
		case k < 97:
			size = logUniform(r, 200e3, 2e6)
		default:
			size = logUniform(r, 2e6, 24e6)
		}
		kind := pick(r, fileKinds)
		for size > 2e6 && !kind.binary {
			kind = pick(r, fileKinds)
		}
		name := pick(r, nameStems)
		if r.IntN(3) == 0 {
			name = fmt.Sprintf("%s %d", name, i)
		}
		out = append(out, upload{
			ID: newUUID(r), Name: name + kind.ext, ContentType: kind.contentType,
			UserID: pick(r, users).ID, Size: int64(size), Created: created(),
		})
	}
	return out
}

// normalizeSizes rescales sizes so they sum to about total, keeping the skew.
func normalizeSizes(ups []upload, total int64) {
	var sum int64
	for _, u := range ups {
		sum += u.Size
	}
	if sum == 0 || total <= 0 {
		return
	}
	f := float64(total) / float64(sum)
	for i := range ups {
		ups[i].Size = max(16, int64(float64(ups[i].Size)*f))
	}
}

func (u upload) fileName() string { return u.ID + "_" + u.Name }

func isText(contentType string) bool { return strings.HasPrefix(contentType, "text/") }
