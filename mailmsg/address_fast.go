package mailmsg

import "strings"

// The address fields of most mail are in two forms: "local@domain" and
// "Display Name <local@domain>", ASCII, with plain words for the name.
// net/mail reads them at a cost of about 17 allocations and 10,000
// instructions each, and one email's From is read five times (its
// author, and the loop guard's rules). simpleAddress reads that subset
// itself, to the same name and address; anything else (quotes,
// comments, encoded words, dots or punctuation in the name, several
// addresses, groups, non-ASCII) goes to net/mail as before.
// TestSimpleAddressSameAsNetMail compares the two.

// simpleAddress returns the display name and the address of v when v is
// one address of that subset; ok is false otherwise.
func simpleAddress(v string) (name, addr string, ok bool) {
	i := strings.IndexByte(v, '<')
	if i < 0 {
		if !isSimpleAddrSpec(v) {
			return "", "", false
		}
		return "", v, true
	}
	if v[len(v)-1] != '>' {
		return "", "", false
	}
	spec := v[i+1 : len(v)-1]
	if !isSimpleAddrSpec(spec) {
		return "", "", false
	}
	name = v[:i]
	if name != "" {
		name = strings.TrimSuffix(name, " ")
		if !isSimplePhrase(name) {
			return "", "", false
		}
	}
	return name, spec, true
}

// isSimplePhrase: words of ASCII letters and digits, each two apart by
// one space.
func isSimplePhrase(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if s[i-1] == ' ' {
				return false
			}
			continue
		}
		if !isAlnum(c) {
			return false
		}
	}
	return true
}

// isSimpleAddrSpec: local@domain, the local part of ASCII letters,
// digits and ". _ + -", the domain of letters, digits and ". -", neither
// empty nor starting or ending with a dot, nor with two dots in a row.
func isSimpleAddrSpec(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	return isSimpleDotAtom(s[:at], true) && isSimpleDotAtom(s[at+1:], false)
}

func isSimpleDotAtom(s string, local bool) bool {
	if s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isAlnum(c), c == '-':
		case c == '.':
			if s[i-1] == '.' {
				return false
			}
		case local && (c == '_' || c == '+'):
		default:
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
