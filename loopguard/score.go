package loopguard

import (
	"fmt"
	"sort"
	"strings"

	"github.com/deskmail/deskmail/mailmsg"
)

// signal is one rule that matched: it adds weight to a class (or, when
// negative, takes weight from it), with a reason a person can read.
type signal struct {
	class  Class
	weight int
	reason string
}

// evidence collects what the rules found about one message.
type evidence struct {
	signals []signal
	notes   []string
	bounce  *BounceReport
	// seen keeps a rule family from voting twice ("one ack phrase",
	// not one per phrase).
	seen map[string]bool
	// notices are the words of machine-made notices, weighed by
	// settleNotices once the headers and the sender are known.
	notices []notice
	// ticket is another system's ticket number in the subject, weighed
	// by settleNotices: only beside another sign of a ticket system.
	ticket string
}

type notice struct {
	signal
	broad bool // counts only when the message is marked as a machine's
}

// notice records the words of a machine-made notice (a subject, a
// footer); settleNotices decides what they weigh.
func (e *evidence) notice(w int, reason string, broad bool) {
	e.notices = append(e.notices, notice{signal{class: AutoReply, weight: w, reason: reason}, broad})
}

// settleNotices adds the notice words: all of them when a field or the
// sender already says a machine may have sent the message (the notices
// of SaaS tools are marked by X-Auto-Response-Suppress or their sender
// and nothing else), only the heaviest otherwise, so that a person
// writing about a security alert they got stays a person.
func (e *evidence) settleNotices() {
	// A machine's field or a noreply/notice-robot sender marks the
	// message strongly: every notice word counts. A system's sender
	// (security@, service@), which a team may also write from, marks it
	// weakly: the specific notice words count, the broad ones do not.
	marked, weak := false, false
	for _, s := range e.signals {
		if s.class != AutoReply || s.weight <= 0 {
			continue
		}
		switch {
		case strings.HasPrefix(s.reason, "X-Auto-Response-Suppress"), s.weight >= wNoReplySender && strings.HasPrefix(s.reason, "sender "):
			marked = true
		case strings.HasPrefix(s.reason, "sender "):
			weak = true
		}
	}
	if e.ticket != "" {
		helpdesk := e.seen["helpdesk"]
		for _, s := range e.signals {
			if s.class == AutoReply && (strings.HasPrefix(s.reason, "acknowledgement") || strings.HasPrefix(s.reason, "In-Reply-To names")) {
				helpdesk = true
			}
		}
		if helpdesk {
			e.add(AutoReply, wTicketSubject, "another system's ticket number in the subject: %q", clip(e.ticket))
		} else {
			e.note("not counted without another sign of a ticket system: a ticket number in the subject " + strconvQuote(clip(e.ticket)))
		}
		e.ticket = ""
	}
	counted := false
	for _, n := range e.notices {
		if marked || (weak && !n.broad) || (!n.broad && !counted) {
			e.signals = append(e.signals, n.signal)
			counted = true
		} else {
			e.note("not counted without a machine's field or sender: " + n.reason)
		}
	}
	e.notices = nil
}

// add records a signal of weight w for class c.
func (e *evidence) add(c Class, w int, format string, args ...any) {
	e.signals = append(e.signals, signal{class: c, weight: w, reason: fmt.Sprintf(format, args...)})
}

// once records a signal unless one of the same family was recorded.
func (e *evidence) once(family string, c Class, w int, format string, args ...any) {
	if e.seen == nil {
		e.seen = map[string]bool{}
	}
	if e.seen[family] {
		return
	}
	e.seen[family] = true
	e.add(c, w, format, args...)
}

func (e *evidence) note(s string) { e.notes = append(e.notes, s) }

// score is the sum of the weights of class c.
func (e *evidence) score(c Class) int {
	n := 0
	for _, s := range e.signals {
		if s.class == c {
			n += s.weight
		}
	}
	return n
}

// decided tells whether class c has enough weight on its own.
func (e *evidence) decided(c Class) bool { return e.score(c) >= decisive }

// winner is the class of the message: among the classes whose weight
// reaches decisive, the one highest in precedence (Class.priority); human
// when none does.
func (e *evidence) winner() Class {
	w := Human
	for _, c := range []Class{Bulk, AutoReply, Bounce, Looping} {
		if e.decided(c) {
			w = c
		}
	}
	// An RFC 3834 auto-reply sent through a list is an auto-reply; list
	// mail that only looks automatic (a notice robot's sender,
	// X-Auto-Response-Suppress) is bulk, as its list fields say.
	if w == AutoReply && e.strongest(AutoReply) < certain && e.strongest(Bulk) >= certain {
		w = Bulk
	}
	return w
}

// verdict turns the evidence into a Verdict: the signals of the winning
// class first (heaviest first), then every other signal seen, saying
// whether its class was also decided or was outweighed, then the notes.
func (e *evidence) verdict() Verdict {
	v := Verdict{Class: e.winner()}
	sort.SliceStable(e.signals, func(i, j int) bool {
		a, b := e.signals[i], e.signals[j]
		if a.class != b.class {
			return a.class.priority() > b.class.priority()
		}
		return a.weight > b.weight
	})
	if v.Class != Human && e.strongest(v.Class) < decisive {
		r := fmt.Sprintf("several hints of %s add up to %d (%d decides)", v.Class, e.score(v.Class), decisive)
		if neg := e.negative(v.Class); neg < 0 {
			r += fmt.Sprintf(", after %d for the counter-signals in the notes", neg)
		}
		v.Reasons = append(v.Reasons, r+":")
	}
	for _, s := range e.signals {
		if s.class == v.Class && s.weight > 0 {
			v.Reasons = append(v.Reasons, s.reason+weightText(s.weight))
		}
	}
	if v.Class == Human {
		v.Reasons = append(v.Reasons, e.humanSummary())
	}
	for _, s := range e.signals {
		switch {
		case s.class == v.Class && s.weight > 0:
		case s.weight < 0:
			v.Reasons = append(v.Reasons, fmt.Sprintf("note: against %s: %s%s", s.class, s.reason, weightText(s.weight)))
		case e.decided(s.class):
			v.Reasons = append(v.Reasons, fmt.Sprintf("note: also %s: %s%s", s.class, s.reason, weightText(s.weight)))
		default:
			v.Reasons = append(v.Reasons, fmt.Sprintf("note: outweighed (%s %d < %d): %s%s", s.class, e.score(s.class), decisive, s.reason, weightText(s.weight)))
		}
	}
	for _, n := range e.notes {
		v.Reasons = append(v.Reasons, "note: "+n)
	}
	for i, r := range v.Reasons {
		v.Reasons[i] = mailmsg.Printable(r)
	}
	if v.Class == Bounce {
		v.Bounce = e.bounce
		if v.Bounce == nil {
			v.Bounce = &BounceReport{Format: "unknown"}
		}
	}
	return v
}

// humanSummary says why a message is human: nothing automatic seen, or
// what was seen and why it was not enough.
func (e *evidence) humanSummary() string {
	var seen []string
	for _, c := range []Class{Looping, Bounce, AutoReply, Bulk} {
		if !e.hasAny(c) {
			continue
		}
		if neg := e.negative(c); neg < 0 {
			seen = append(seen, fmt.Sprintf("%s %d, %d of it outweighed", c, e.score(c), -neg))
		} else {
			seen = append(seen, fmt.Sprintf("%s %d", c, e.score(c)))
		}
	}
	if len(seen) == 0 {
		return "no sign of automatic mail: written by a person"
	}
	return fmt.Sprintf("written by a person: the signs of automatic mail stay below %d (%s)", decisive, strings.Join(seen, ", "))
}

// strongest is the weight of the heaviest signal of class c.
func (e *evidence) strongest(c Class) int {
	m := 0
	for _, s := range e.signals {
		if s.class == c && s.weight > m {
			m = s.weight
		}
	}
	return m
}

func (e *evidence) hasAny(c Class) bool {
	for _, s := range e.signals {
		if s.class == c {
			return true
		}
	}
	return false
}

// negative is the sum of the counter-signals of class c.
func (e *evidence) negative(c Class) int {
	n := 0
	for _, s := range e.signals {
		if s.class == c && s.weight < 0 {
			n += s.weight
		}
	}
	return n
}

func weightText(w int) string {
	if w >= certain {
		return ""
	}
	return fmt.Sprintf(" [%+d]", w)
}
