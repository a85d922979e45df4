package journal

import (
	"context"
	"testing"
	"time"

	"github.com/deskmail/deskmail/store"
)

func TestAuditNewestFirstByTargetAndPruned(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		for i, a := range []Audit{
			{Actor: "ada", Action: "template.save", Target: "welcome"},
			{Actor: "ada", Action: "system_email.off", Target: "welcome"},
			{Actor: "vic", Action: "login.failed", Target: "vic", IP: "192.0.2.1"},
		} {
			a.Time = t0.Add(time.Duration(i) * 24 * time.Hour)
			if err := AppendAudit(tx, &a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	read := func(target string) []Audit {
		var as []Audit
		if err := db.View(context.Background(), func(tx *store.Tx) error { as, err = Audits(tx, 10, target); return err }); err != nil {
			t.Fatal(err)
		}
		return as
	}
	if as := read(""); len(as) != 3 || as[0].Action != "login.failed" || as[2].Action != "template.save" || as[0].ID == "" {
		t.Errorf("all, newest first: %+v", as)
	}
	if as := read("welcome"); len(as) != 2 || as[0].Action != "system_email.off" {
		t.Errorf("about welcome: %+v", as)
	}
	n, err := PruneAudit(context.Background(), db, t0.Add(36*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v: want the two older records", n, err)
	}
	if as := read(""); len(as) != 1 || as[0].Action != "login.failed" {
		t.Errorf("after pruning: %+v", as)
	}
}
