package loopguard

import (
	"sort"
)

// The phrase tables of rules.go are searched in one pass over the text
// with an Aho-Corasick automaton, whatever the number of tables and
// phrases: searching each phrase with its own strings.Contains cost time
// in proportion to the number of phrases (18% of the daemon's CPU in an
// end-to-end run, before the tables grew to 40 languages). One automaton
// holds the tables read over the author's own words, another those read
// over the subject; a scan returns, for every table, which of its phrases
// occur, and findAny's answer (the first phrase of the table's order that
// occurs) is kept, so the reasons read as before.

// automaton is an Aho-Corasick automaton over bytes (the texts and the
// phrases are lower-cased UTF-8). Its nodes keep their edges sorted by
// byte; every node knows the longest proper suffix that is also a node
// (fail) and the nearest such suffix that ends a phrase (dict), so a scan
// is linear in the text plus the matches.
type automaton struct {
	nodes []acNode
	npats int
	// root is the root's edges as a table: a scan is at the root for
	// most bytes of a text, and the root has an edge for most bytes.
	// 0 where the root has none.
	root [256]int32
	// out is, for every node, the phrases that end there and at its
	// dict suffixes (the whole chain a scan would walk), nil for none.
	out [][]int32
	// dfa is the whole transition function, next's answer for every node
	// and byte class: dfa[n*nclass+class[b]]. A scan then does one load
	// per byte instead of a search of the node's edges and of its fail
	// chain's. An entry whose node ends a phrase (out not empty) has
	// dfaOut set besides: the scan tests the entry it loaded, not out.
	// nil when the automaton is too large for it (maxDFA), and then
	// scans walk the fail links (next).
	dfa    []uint16
	class  [256]uint16 // 0 for the bytes of no phrase
	nclass int
}

// maxDFA bounds the table of a dense automaton (2 bytes an entry): the
// body tables' automaton takes about 11,000 nodes by 124 byte classes
// (2.7 MB), the subject's 3,200 by 112 (0.7 MB). Past it, or past 32,767
// nodes (the top bit of an entry is dfaOut), the automaton keeps its
// sparse edges only.
const maxDFA = 8 << 20

// dfaOut marks a dfa entry whose node ends a phrase.
const dfaOut = 1 << 15

type acNode struct {
	edges []acEdge
	fail  int32
	dict  int32   // nearest suffix node with phrases, -1 if none
	pats  []int32 // phrases that end here
}

type acEdge struct {
	b    byte
	next int32
}

func (n *acNode) step(b byte) int32 {
	e := n.edges
	// Most nodes have one or two edges: a linear search beats a binary
	// one until about eight.
	if len(e) <= 8 {
		for i := range e {
			if e[i].b == b {
				return e[i].next
			}
		}
		return -1
	}
	lo, hi := 0, len(e)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if e[m].b < b {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(e) && e[lo].b == b {
		return e[lo].next
	}
	return -1
}

// newAutomaton builds the automaton of pats; pattern i is reported as i.
// Empty patterns are ignored.
func newAutomaton(pats []string) *automaton {
	a := &automaton{nodes: []acNode{{fail: 0, dict: -1}}, npats: len(pats)}
	for id, p := range pats {
		if p == "" {
			continue
		}
		n := int32(0)
		for i := 0; i < len(p); i++ {
			next := a.nodes[n].step(p[i])
			if next < 0 {
				next = int32(len(a.nodes))
				a.nodes = append(a.nodes, acNode{dict: -1})
				e := a.nodes[n].edges
				j := sort.Search(len(e), func(j int) bool { return e[j].b >= p[i] })
				e = append(e, acEdge{})
				copy(e[j+1:], e[j:])
				e[j] = acEdge{b: p[i], next: next}
				a.nodes[n].edges = e
			}
			n = next
		}
		a.nodes[n].pats = append(a.nodes[n].pats, int32(id))
	}
	// Breadth first: a node's fail link is found from its parent's.
	queue := make([]int32, 0, len(a.nodes))
	for _, e := range a.nodes[0].edges {
		a.nodes[e.next].fail = 0
		queue = append(queue, e.next)
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, e := range a.nodes[n].edges {
			f := a.nodes[n].fail
			for {
				if t := a.nodes[f].step(e.b); t >= 0 && t != e.next {
					a.nodes[e.next].fail = t
					break
				}
				if f == 0 {
					a.nodes[e.next].fail = 0
					break
				}
				f = a.nodes[f].fail
			}
			fl := a.nodes[e.next].fail
			if len(a.nodes[fl].pats) > 0 {
				a.nodes[e.next].dict = fl
			} else {
				a.nodes[e.next].dict = a.nodes[fl].dict
			}
			queue = append(queue, e.next)
		}
	}
	for _, e := range a.nodes[0].edges {
		a.root[e.b] = e.next
	}
	a.out = make([][]int32, len(a.nodes))
	for n := range a.nodes {
		var l []int32
		for o := int32(n); o > 0; o = a.nodes[o].dict {
			l = append(l, a.nodes[o].pats...)
		}
		a.out[n] = l
	}
	a.buildDFA(queue[:0])
	return a
}

// buildDFA fills a.dfa from the sparse edges and fail links: a node's
// move on a byte it has no edge for is its fail node's move, found
// before it in breadth-first order.
func (a *automaton) buildDFA(order []int32) {
	var bytes []byte
	for _, n := range a.nodes {
		for _, e := range n.edges {
			if a.class[e.b] == 0 {
				bytes = append(bytes, e.b)
				a.class[e.b] = uint16(len(bytes))
			}
		}
	}
	nc := len(bytes) + 1
	if len(a.nodes) > dfaOut-1 || len(a.nodes)*nc > maxDFA {
		a.class = [256]uint16{}
		return
	}
	dfa := make([]uint16, len(a.nodes)*nc)
	// Breadth first again (the fail node of each is shallower).
	order = append(order, 0)
	for i := 0; i < len(order); i++ {
		n := order[i]
		row := dfa[int(n)*nc : int(n)*nc+nc]
		if n != 0 {
			copy(row, dfa[int(a.nodes[n].fail)*nc:int(a.nodes[n].fail)*nc+nc])
		}
		for _, e := range a.nodes[n].edges {
			row[a.class[e.b]] = uint16(e.next)
			order = append(order, e.next)
		}
	}
	for i, next := range dfa {
		if len(a.out[next]) > 0 {
			dfa[i] = next | dfaOut
		}
	}
	a.dfa, a.nclass = dfa, nc
}

// scan calls found for every occurrence of every phrase in s.
func (a *automaton) scan(s string, found func(id int32)) {
	a.walk(s, func(n int32) {
		for _, id := range a.out[n] {
			found(id)
		}
	})
}

// scanBits sets bit id of seen for every phrase id that occurs in s.
func (a *automaton) scanBits(s string, seen []uint64) {
	if a.dfa == nil {
		a.scanBitsSparse(s, seen)
		return
	}
	dfa, nc, out := a.dfa, a.nclass, a.out
	n := 0
	for i := 0; i < len(s); i++ {
		v := dfa[n*nc+int(a.class[s[i]])]
		n = int(v &^ dfaOut)
		if v&dfaOut != 0 {
			for _, id := range out[n] {
				seen[id>>6] |= 1 << (id & 63)
			}
		}
	}
}

// scanBitsSparse is scanBits over the sparse edges and fail links.
func (a *automaton) scanBitsSparse(s string, seen []uint64) {
	n := int32(0)
	for i := 0; i < len(s); i++ {
		n = a.next(n, s[i])
		for _, id := range a.out[n] {
			seen[id>>6] |= 1 << (id & 63)
		}
	}
}

// walk calls at with the node the automaton is at after each byte of s
// that ends a phrase there or at a suffix.
func (a *automaton) walk(s string, at func(n int32)) {
	n := int32(0)
	for i := 0; i < len(s); i++ {
		n = a.next(n, s[i])
		if len(a.out[n]) > 0 {
			at(n)
		}
	}
}

// next is the node after byte b from node n.
func (a *automaton) next(n int32, b byte) int32 {
	for n != 0 {
		if t := a.nodes[n].step(b); t >= 0 {
			return t
		}
		n = a.nodes[n].fail
	}
	return a.root[b]
}

// phraseSet is a group of phrase tables searched together.
type phraseSet struct {
	ac     *automaton
	tables [][]string
	start  []int // index of each table's first phrase in the automaton
}

func newPhraseSet(tables ...[]string) *phraseSet {
	ps := &phraseSet{tables: tables}
	var all []string
	for _, t := range tables {
		ps.start = append(ps.start, len(all))
		all = append(all, t...)
	}
	ps.ac = newAutomaton(all)
	return ps
}

// phraseHits says which phrases of a phraseSet occur in one text.
type phraseHits struct {
	set  *phraseSet
	seen []uint64 // a bit per phrase
}

func (ps *phraseSet) scan(s string) phraseHits {
	h := phraseHits{set: ps, seen: make([]uint64, (ps.ac.npats+63)/64)}
	ps.ac.scanBits(s, h.seen)
	return h
}

// first is findAny's answer for table t: the first of its phrases, in
// the table's order, that occurs; "" when none does.
func (h phraseHits) first(t int) string {
	if h.set == nil {
		return ""
	}
	start, tab := h.set.start[t], h.set.tables[t]
	for i := range tab {
		id := start + i
		if h.seen[id>>6]&(1<<(id&63)) != 0 {
			return tab[i]
		}
	}
	return ""
}

// all is every phrase of table t that occurs, in the table's order.
func (h phraseHits) all(t int) []string {
	if h.set == nil {
		return nil
	}
	var out []string
	start, tab := h.set.start[t], h.set.tables[t]
	for i := range tab {
		id := start + i
		if h.seen[id>>6]&(1<<(id&63)) != 0 {
			out = append(out, tab[i])
		}
	}
	return out
}

// The tables read over the author's own words, and over the subject.
const (
	bChallenge = iota
	bAuto
	bAck
	bOOF
	bNotice
	bBounce
	bFeed
	bVerify
	bHuman
	bHeld
	bChallengeHint
	bMailboxFull
)

const (
	sNotice = iota
	sNoticeWord
	sAck
	sVerify
	sBounce
	sComplaint
	sDelay
)

var (
	bodyPhrases = newPhraseSet(challengePhrases, autoPhrases, ackPhrases, oofPhrases, noticePhrases, bouncePhrases,
		feedPhrases, verifyWords, humanWords, heldWords, challengeHints, mailboxFullWords)
	subjectPhrases = newPhraseSet(noticeSubjects, noticeSubjectWords, ackSubjects, verifySubjects, bounceSubjects,
		complaintSubjects, delaySubjects)
)
