package templates

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/deskmail/deskmail/store"
)

// Buckets:
//
//	templates          name -> Template (the current version, when edited)
//	templates_history  name \x00 8-byte big-endian version -> Template
//	templates_off      name -> nil, for a system email switched off
const (
	bCurrent = "templates"
	bHistory = "templates_history"
	bOff     = "templates_off"
)

// Errors. Compare with errors.Is.
var (
	ErrNotFound = errors.New("no such template")
	ErrAlwaysOn = errors.New("this system email cannot be switched off")
	ErrNoSystem = errors.New("not a system email")
)

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// ValidName tells whether name may name a template.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// Get returns the current version of a template: the last saved, or the
// embedded default.
func Get(tx *store.Tx, name string) (Template, error) {
	if b := tx.Get(bCurrent, []byte(name)); b != nil {
		var t Template
		if err := json.Unmarshal(b, &t); err != nil {
			return Template{}, fmt.Errorf("decode template %s: %w", name, err)
		}
		return t, nil
	}
	if t, ok := Default(name); ok {
		return t, nil
	}
	return Template{}, fmt.Errorf("%w: %s", ErrNotFound, name)
}

func historyKey(name string, v int) []byte {
	k := make([]byte, 0, len(name)+9)
	k = append(append(k, name...), 0)
	return binary.BigEndian.AppendUint64(k, uint64(v))
}

// Save validates t and stores it as the template's new current version,
// keeping the previous one in the history. A template that does not parse
// or render with Sample is refused with an *Error and nothing changes. A
// name with no default creates a template (for automations).
func Save(tx *store.Tx, t Template, now time.Time) (Template, error) {
	if !ValidName(t.Name) {
		return Template{}, &Error{Part: "name", Msg: "must be 1-64 lowercase letters, digits or '_', starting with a letter"}
	}
	if err := Validate(t); err != nil {
		return Template{}, err
	}
	return put(tx, t, now)
}

func put(tx *store.Tx, t Template, now time.Time) (Template, error) {
	t.Version = lastVersion(tx, t.Name) + 1
	t.Updated = now
	b, err := json.Marshal(t)
	if err != nil {
		return Template{}, err
	}
	if err := tx.Put(bHistory, historyKey(t.Name, t.Version), b); err != nil {
		return Template{}, err
	}
	return t, tx.Put(bCurrent, []byte(t.Name), b)
}

func lastVersion(tx *store.Tx, name string) int {
	last := 0
	_ = tx.ScanReverse(bHistory, historyKey(name, 1<<62), func(k, _ []byte) (bool, error) {
		if len(k) == len(name)+9 && string(k[:len(name)]) == name && k[len(name)] == 0 {
			last = int(binary.BigEndian.Uint64(k[len(name)+1:]))
		}
		return false, nil
	})
	return last
}

// Reset puts the embedded default back as the current version (kept in
// the history like any save).
func Reset(tx *store.Tx, name string, now time.Time) (Template, error) {
	d, ok := Default(name)
	if !ok {
		return Template{}, fmt.Errorf("%w with a default: %s", ErrNotFound, name)
	}
	d.Note = "reset to default"
	return put(tx, d, now)
}

// History returns every saved version of a template, oldest first.
func History(tx *store.Tx, name string) ([]Template, error) {
	var out []Template
	prefix := append([]byte(name), 0)
	err := tx.Scan(bHistory, prefix, func(k, v []byte) (bool, error) {
		if len(k) != len(name)+9 || string(k[:len(name)+1]) != string(prefix) {
			return false, nil
		}
		var t Template
		if err := json.Unmarshal(v, &t); err != nil {
			return false, err
		}
		out = append(out, t)
		return true, nil
	})
	return out, err
}

// Info is a template in the list.
type Info struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	System      bool   `json:"system"`
	Enabled     bool   `json:"enabled"`
	AlwaysOn    bool   `json:"always_on,omitempty"`
	Customized  bool   `json:"customized"` // the current version is not the embedded default
	Version     int    `json:"version"`
}

// List returns the system emails in catalogue order, then the other
// templates by name.
func List(tx *store.Tx) ([]Info, error) {
	var out []Info
	for _, s := range SystemEmails {
		t, err := Get(tx, s.Name)
		if err != nil {
			return nil, err
		}
		d, _ := Default(s.Name)
		out = append(out, Info{Name: s.Name, Description: s.Description, System: true, Enabled: Enabled(tx, s.Name),
			AlwaysOn: s.AlwaysOn, Customized: !sameContent(t, d), Version: t.Version})
	}
	err := tx.Scan(bCurrent, nil, func(k, v []byte) (bool, error) {
		if _, sys := LookupSystem(string(k)); sys {
			return true, nil
		}
		var t Template
		if err := json.Unmarshal(v, &t); err != nil {
			return false, err
		}
		out = append(out, Info{Name: t.Name, Enabled: true, Customized: true, Version: t.Version})
		return true, nil
	})
	return out, err
}

func sameContent(a, b Template) bool {
	return a.Subject == b.Subject && a.Text == b.Text && a.HTML == b.HTML
}

// Enabled tells whether the system email called name is sent.
func Enabled(tx *store.Tx, name string) bool {
	if s, ok := LookupSystem(name); ok && s.AlwaysOn {
		return true
	}
	return tx.Get(bOff, []byte(name)) == nil
}

// SetEnabled switches a system email on or off. Password reset is never
// switched off: ErrAlwaysOn.
func SetEnabled(tx *store.Tx, name string, on bool) error {
	s, ok := LookupSystem(name)
	switch {
	case !ok:
		return fmt.Errorf("%w: %s", ErrNoSystem, name)
	case on:
		return tx.Delete(bOff, []byte(name))
	case s.AlwaysOn:
		return fmt.Errorf("%w: %s (users locked out would have no way back in)", ErrAlwaysOn, name)
	}
	return tx.Put(bOff, []byte(name), nil)
}

// Preview renders the current version of a template with Sample.
func Preview(tx *store.Tx, name string) (Rendered, error) {
	t, err := Get(tx, name)
	if err != nil {
		return Rendered{}, err
	}
	return Render(t, Sample())
}
