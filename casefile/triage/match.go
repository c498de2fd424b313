package triage

// A multi-pattern matcher (Aho–Corasick, compiled to a DFA over the bytes the patterns
// use) so that one pass over a reply tells which of the tables' phrases it contains:
// a reply is triaged in microseconds however many rules the tables hold. The automaton is
// built on the first match, not when the program starts: most commands match nothing.

import "sync"

type phraseSet struct {
	built  sync.Once
	ids    map[string]int
	class  [256]uint8 // byte → class; 0 for bytes no phrase uses
	nclass int
	delta  []int32 // state*nclass + class → next state
	out    [][]int // state → phrases ending here
}

// add registers a phrase (already lower-cased) and returns its id.
func (ps *phraseSet) add(p string) int {
	if ps.ids == nil {
		ps.ids = map[string]int{}
	}
	if id, ok := ps.ids[p]; ok {
		return id
	}
	id := len(ps.ids)
	ps.ids[p] = id
	return id
}

func (ps *phraseSet) size() int { return len(ps.ids) }

// compile builds the automaton from the registered phrases, once, before the first match.
func (ps *phraseSet) compile() { ps.built.Do(ps.build) }

func (ps *phraseSet) build() {
	ps.class = [256]uint8{}
	ps.nclass = 1
	for p := range ps.ids {
		for i := 0; i < len(p); i++ {
			if ps.class[p[i]] == 0 {
				ps.class[p[i]] = uint8(ps.nclass)
				ps.nclass++
			}
		}
	}
	nc := ps.nclass
	// The trie, with -1 for missing edges: at most one state per phrase byte, allocated
	// once.
	states := 1
	for p := range ps.ids {
		states += len(p)
	}
	delta := make([]int32, nc, states*nc)
	for i := range delta {
		delta[i] = -1
	}
	out := make([][]int, 1, states)
	for p, id := range ps.ids {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := int(ps.class[p[i]])
			if delta[int(s)*nc+c] < 0 {
				delta[int(s)*nc+c] = int32(len(out))
				out = append(out, nil)
				for range nc {
					delta = append(delta, -1)
				}
			}
			s = delta[int(s)*nc+c]
		}
		out[s] = append(out[s], id)
	}
	// Breadth first: failure links become DFA edges, outputs are inherited.
	fail := make([]int32, len(out))
	queue := make([]int32, 0, len(out))
	for c := range nc {
		if t := delta[c]; t > 0 {
			fail[t] = 0
			queue = append(queue, t)
		} else {
			delta[c] = 0
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for c := range nc {
			t := delta[int(s)*nc+c]
			f := delta[int(fail[s])*nc+c]
			if t < 0 {
				delta[int(s)*nc+c] = f
				continue
			}
			fail[t] = f
			out[t] = append(out[t], out[f]...)
			queue = append(queue, t)
		}
	}
	ps.delta, ps.out = delta, out
}

// scan marks in seen (one bit per phrase) every phrase that occurs in text.
func (ps *phraseSet) scan(text string, seen []uint64) {
	ps.compile()
	nc := ps.nclass
	s := int32(0)
	for i := 0; i < len(text); i++ {
		s = ps.delta[int(s)*nc+int(ps.class[text[i]])]
		for _, id := range ps.out[s] {
			seen[id>>6] |= 1 << (id & 63)
		}
	}
}

// firstEnds returns, for every phrase, the end of its first occurrence in text (-1 when
// absent).
func (ps *phraseSet) firstEnds(text string, ends []int) {
	for i := range ends {
		ends[i] = -1
	}
	ps.compile()
	nc := ps.nclass
	s := int32(0)
	for i := 0; i < len(text); i++ {
		s = ps.delta[int(s)*nc+int(ps.class[text[i]])]
		for _, id := range ps.out[s] {
			if ends[id] < 0 {
				ends[id] = i + 1
			}
		}
	}
}

func has(seen []uint64, id int) bool { return seen[id>>6]&(1<<(id&63)) != 0 }
