package sample

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strings"
)

// Streams keep the parts of a generated tree independent: the uploads do
// not change when the chat generator draws one more number, so a change to
// one part leaves the others byte-identical for the same seed.
const (
	streamPlan uint64 = iota + 1
	streamChats
	streamChroma
	streamCache
	streamAudit
	streamAddUploads
	streamAddChats
	streamFile
)

// newRand returns the PRNG of one stream of a seed.
func newRand(seed int64, stream, sub uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed)^0x9e3779b97f4a7c15*stream, stream<<32^sub))
}

// newUUID draws a version-4 UUID from r, so ids repeat for a seed.
func newUUID(r *rand.Rand) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], r.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// randHex returns n random bytes as hex.
func randHex(r *rand.Rand, n int) string {
	b := make([]byte, n)
	fillRandom(r, b)
	return hex.EncodeToString(b)
}

// fillRandom fills b with incompressible bytes, eight at a time.
func fillRandom(r *rand.Rand, b []byte) {
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, r.Uint64())
		b = b[8:]
	}
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

// logUniform draws from [lo, hi) with a log-uniform density: most values
// small, a few large, like file sizes and message lengths.
func logUniform(r *rand.Rand, lo, hi float64) float64 {
	return math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo)))
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

var words = strings.Fields(`the a of to and in is it that for on with as this be are
you can use by or from not at an your will if data file model we when which
more each one all has have was but so how into also other then than some these
query vector index backup restore server config container volume database table
chunk embedding token request response user admin prompt context memory upload
document knowledge retrieval search result value function error timeout cache
network latency throughput schedule policy snapshot retention bucket storage
encryption key password session cluster node deploy docker compose kubernetes
python golang rust javascript typescript shell script build test release version
performance memory cpu disk graph summary example question answer reason step
first second next finally however because therefore likely usually important
simple quick robust safe careful clear short long small large new old local remote`)

var codeLines = []string{
	"func main() {", "\tctx := context.Background()", "\tif err != nil {", "\t\treturn err",
	"}", "import os", "def handler(event, context):", "    return {\"status\": 200}",
	"for i in range(10):", "    print(i)", "SELECT id, title FROM chat WHERE user_id = ?;",
	"docker compose up -d", "const res = await fetch(url);", "let x = vec![1, 2, 3];",
	"kubectl get pods -n open-webui", "sqlite3 webui.db 'PRAGMA integrity_check;'",
}

// textGen writes plausible prose, lists and code blocks.
type textGen struct {
	r *rand.Rand
	b strings.Builder
}

func (g *textGen) sentence() {
	n := 6 + g.r.IntN(16)
	for i := range n {
		w := pick(g.r, words)
		if i == 0 {
			g.b.WriteString(strings.ToUpper(w[:1]))
			g.b.WriteString(w[1:])
		} else {
			g.b.WriteByte(' ')
			g.b.WriteString(w)
		}
	}
	g.b.WriteString(pick(g.r, []string{".", ".", ".", "?", "!", ":"}))
}

// markdown returns about n bytes of chat-style markdown.
func (g *textGen) markdown(n int) string {
	g.b.Reset()
	g.b.Grow(n + 200)
	for g.b.Len() < n {
		switch k := g.r.IntN(10); {
		case k < 6:
			for range 1 + g.r.IntN(4) {
				g.sentence()
				g.b.WriteByte(' ')
			}
		case k < 8:
			for i := range 2 + g.r.IntN(4) {
				g.b.WriteString(pick(g.r, []string{"- ", "* ", "1. "}))
				if i%2 == 0 {
					g.b.WriteString("**" + pick(g.r, words) + "**: ")
				}
				g.sentence()
				g.b.WriteByte('\n')
			}
		default:
			g.b.WriteString("```" + pick(g.r, []string{"go", "python", "bash", "sql", "js"}) + "\n")
			for range 2 + g.r.IntN(8) {
				g.b.WriteString(pick(g.r, codeLines))
				g.b.WriteByte('\n')
			}
			g.b.WriteString("```")
		}
		g.b.WriteString("\n\n")
	}
	return g.b.String()
}

// title returns a short chat or document title.
func (g *textGen) title() string {
	g.b.Reset()
	n := 2 + g.r.IntN(5)
	for i := range n {
		w := pick(g.r, words)
		if i > 0 {
			g.b.WriteByte(' ')
		}
		g.b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return g.b.String()
}
