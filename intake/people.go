package intake

import (
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// The log's detail column names people as an operator knows them, by
// name and address ("Ann Lee <ann@client.test>"), not by store id; the
// ids stay in the entry's JSON (person, messages, conversation) for
// scripts and for looking further.

// personName is a person as the log writes them: "Name <address>", or
// whichever of the two is known, or the id as a last resort.
func personName(p model.Person) string {
	addr := ""
	if len(p.Emails) > 0 {
		addr = p.Emails[0]
	}
	switch {
	case p.Name != "" && addr != "":
		return p.Name + " <" + addr + ">"
	case addr != "":
		return addr
	case p.Name != "":
		return p.Name
	}
	return p.ID
}

// describer looks people up in tx for the threading matcher's notes; an
// id it cannot find is written as it is.
func describer(tx *store.Tx) func(id string) string {
	return func(id string) string {
		p, err := model.GetPerson(tx, id)
		if err != nil {
			return id
		}
		return personName(p)
	}
}
