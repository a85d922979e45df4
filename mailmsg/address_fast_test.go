package mailmsg

import (
	"math/rand"
	"net/mail"
	"strings"
	"testing"
)

// The address readers as they were before simpleAddress: net/mail for
// every value.

func addrSpecRef(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	if a, err := p.Parse(v); err == nil {
		return strings.ToLower(a.Address)
	}
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j >= 0 {
			return strings.ToLower(strings.TrimSpace(v[i+1 : i+j]))
		}
	}
	for _, w := range strings.Fields(v) {
		if strings.Contains(w, "@") {
			return strings.ToLower(strings.Trim(w, "<>\"',;()"))
		}
	}
	return ""
}

func displayNameRef(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 1000 {
		v = v[:1000]
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	if a, err := p.Parse(v); err == nil {
		return a.Name
	}
	if i := strings.IndexByte(v, '<'); i > 0 {
		return strings.Trim(strings.TrimSpace(v[:i]), `"`)
	}
	return ""
}

func parseListRef(v string) ([]Address, error) {
	p := mail.AddressParser{WordDecoder: wordDecoder}
	as, err := p.ParseList(v)
	if err != nil {
		return nil, err
	}
	out := make([]Address, len(as))
	for i, a := range as {
		out[i] = Address{Name: a.Name, Addr: strings.ToLower(a.Address)}
	}
	return out, nil
}

// TestSimpleAddressSameAsNetMail: wherever simpleAddress reads a value,
// net/mail reads it to the same name and address, alone and as a list;
// and AddrSpec, DisplayName and parseList answer as before on every
// value, read by either. The values are made of the pieces of addresses,
// names, comments, quotes and encoded words, in any order.
func TestSimpleAddressSameAsNetMail(t *testing.T) {
	pieces := []string{"a", "Z", "cust7", "0", "9", "-", "_", "+", ".", "..", "@", "@@", "<", ">", " ", "  ", "\t", "\"", "(", ")",
		",", ";", ":", "[", "]", "\\", "=?utf-8?q?J=C3=B6rg?=", "é", "!", "#", "'", "Customer 7 ", "bench.test", "c7-x.bench",
		"x@y.z", "<a@b.c>", "John Q. Public", "Ann", "group:", "\x00", "\r\n "}
	rnd := rand.New(rand.NewSource(27))
	var values []string
	for n := 0; n < 200000; n++ {
		var b strings.Builder
		for k := rnd.Intn(7); k >= 0; k-- {
			b.WriteString(pieces[rnd.Intn(len(pieces))])
		}
		values = append(values, b.String())
	}
	// Values near the subset's edges: names and addresses of random
	// characters, mostly the allowed ones.
	word := func(alpha string, max int) string {
		b := make([]byte, rnd.Intn(max+1))
		for i := range b {
			b[i] = alpha[rnd.Intn(len(alpha))]
		}
		return string(b)
	}
	for n := 0; n < 200000; n++ {
		addr := word("aZ09._+-@aZ09", 6) + "@" + word("aZ09.-aZ09", 6)
		switch rnd.Intn(3) {
		case 0:
			values = append(values, addr)
		case 1:
			values = append(values, "<"+addr+">")
		default:
			values = append(values, word("aZ09 aZ09 .\"-(),", 8)+word("  ", 1)+"<"+addr+">"+word(" >", 1))
		}
	}
	values = append(values, "Customer 7 <cust7@c7-x.bench>", "support@bench.test", "<a@b>", "A B<a.b@c-d.e>", " <a@b>", "a@b ", "a @b",
		"a.@b", ".a@b", "a@b.", "a@.b", "a..b@c", "a@b..c", "a@-", "-@-", "A  B <a@b>", "A B  <a@b>", "7 <a+b_c@d>")
	accepted := 0
	p := mail.AddressParser{WordDecoder: wordDecoder}
	for _, v := range values {
		if name, addr, ok := simpleAddress(v); ok {
			accepted++
			a, err := p.Parse(v)
			if err != nil || a.Name != name || a.Address != addr {
				t.Fatalf("simpleAddress(%q) = %q, %q; net/mail %+v, %v", v, name, addr, a, err)
			}
			l, err := p.ParseList(v)
			if err != nil || len(l) != 1 || l[0].Name != name || l[0].Address != addr {
				t.Fatalf("simpleAddress(%q) = %q, %q; net/mail's list %+v, %v", v, name, addr, l, err)
			}
		}
		if got, want := AddrSpec(v), addrSpecRef(v); got != want {
			t.Fatalf("AddrSpec(%q) = %q, before %q", v, got, want)
		}
		if got, want := DisplayName(v), displayNameRef(v); got != want {
			t.Fatalf("DisplayName(%q) = %q, before %q", v, got, want)
		}
		got, gerr := parseList(v)
		want, werr := parseListRef(v)
		if (gerr == nil) != (werr == nil) || len(got) != len(want) {
			t.Fatalf("parseList(%q) = %v, %v; before %v, %v", v, got, gerr, want, werr)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("parseList(%q) = %v; before %v", v, got, want)
			}
		}
	}
	if accepted < 20000 {
		t.Fatalf("simpleAddress read only %d of %d values", accepted, len(values))
	}
	t.Logf("simpleAddress read %d of %d values", accepted, len(values))
}
