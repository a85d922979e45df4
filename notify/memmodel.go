package notify

import (
	"fmt"
	"slices"
	"sync"
)

// MemModel is a Model held in memory, for tests here and in packages that
// call Recipients. It keeps the index of UsersNotifiedOfAll up to date as
// people are put, the way a store is expected to, so benchmarks measure
// Recipients and not a scan. Safe for concurrent use. The zero value is
// ready.
type MemModel struct {
	mu       sync.RWMutex
	people   map[string]Person
	convs    map[string]Conversation
	items    map[string][]string
	projects map[string][]string
	all      [2]map[string]bool // by Origin: users with the "all" setting
}

// PutPerson adds or replaces a person.
func (m *MemModel) PutPerson(p Person) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.people == nil {
		m.people = make(map[string]Person)
		m.all = [2]map[string]bool{{}, {}}
	}
	m.people[p.ID] = p
	isUser := p.Kind == KindUser
	setOrDelete(m.all[OriginCustomer], p.ID, isUser && p.Settings.FromCustomers == FromCustomersAll)
	setOrDelete(m.all[OriginUser], p.ID, isUser && p.Settings.FromUsers == FromUsersAll)
}

func setOrDelete(set map[string]bool, id string, in bool) {
	if in {
		set[id] = true
	} else {
		delete(set, id)
	}
}

// PutConversation adds or replaces a conversation. Its followers slice is
// copied.
func (m *MemModel) PutConversation(c Conversation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.convs == nil {
		m.convs = make(map[string]Conversation)
	}
	c.Followers = slices.Clone(c.Followers)
	m.convs[c.ID] = c
}

// SetItemFollowers replaces the followers of an item.
func (m *MemModel) SetItemFollowers(itemID string, ids ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = make(map[string][]string)
	}
	m.items[itemID] = slices.Clone(ids)
}

// SetProjectFollowers replaces the followers of a project.
func (m *MemModel) SetProjectFollowers(projectID string, ids ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.projects == nil {
		m.projects = make(map[string][]string)
	}
	m.projects[projectID] = slices.Clone(ids)
}

// Person implements Model.
func (m *MemModel) Person(id string) (Person, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p, ok := m.people[id]
	if !ok {
		return Person{}, fmt.Errorf("person %q: %w", id, ErrNotFound)
	}
	return p, nil
}

// Conversation implements Model.
func (m *MemModel) Conversation(id string) (Conversation, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, ok := m.convs[id]
	if !ok {
		return Conversation{}, fmt.Errorf("conversation %q: %w", id, ErrNotFound)
	}
	c.Followers = slices.Clone(c.Followers)
	return c, nil
}

// ItemFollowers implements Model.
func (m *MemModel) ItemFollowers(itemID string) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.items[itemID]), nil
}

// ProjectFollowers implements Model.
func (m *MemModel) ProjectFollowers(projectID string) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.projects[projectID]), nil
}

// UsersNotifiedOfAll implements Model.
func (m *MemModel) UsersNotifiedOfAll(o Origin) ([]string, error) {
	if o != OriginCustomer && o != OriginUser {
		return nil, fmt.Errorf("unknown origin %d", o)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	ids := make([]string, 0, len(m.all[o]))
	for id := range m.all[o] {
		ids = append(ids, id)
	}
	return ids, nil
}
