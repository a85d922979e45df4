package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/deskmail/deskmail/store"
)

func TestSnapshot(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			update(t, db, func(tx *store.Tx) error {
				for i := range 20 {
					if err := tx.Put("b", fmt.Appendf(nil, "p\x00%02d", i), fmt.Appendf(nil, "v%d", i)); err != nil {
						return err
					}
				}
				if err := tx.Put("b", []byte("q"), nil); err != nil {
					return err
				}
				return tx.Put("other", []byte("p\x0005"), []byte("elsewhere"))
			})
			res, err := db.Snapshot(context.Background(),
				store.Get("b", []byte("p\x0007")), // one key
				store.Get("b", []byte("missing")), // no key
				store.Get("b", []byte("q")),       // an empty value
				store.Query{Bucket: "b", From: []byte("p\x00"), To: []byte("p\x0012"), Limit: 100}, // a range, both ends included
				store.Query{Bucket: "b", From: []byte("p\x00"), To: []byte("p\x01"), Limit: 3},     // cut at the limit
				store.Get("nobucket", []byte("x")),
			)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 6 {
				t.Fatalf("%d answers for 6 queries", len(res))
			}
			if len(res[0]) != 1 || string(res[0][0].Key) != "p\x0007" || string(res[0][0].Value) != "v7" {
				t.Errorf("get: %q", res[0])
			}
			if len(res[1]) != 0 || len(res[5]) != 0 {
				t.Errorf("missing keys found: %q %q", res[1], res[5])
			}
			if len(res[2]) != 1 || res[2][0].Value == nil || len(res[2][0].Value) != 0 {
				t.Errorf("empty value: %q", res[2])
			}
			if len(res[3]) != 13 || string(res[3][0].Key) != "p\x0000" || string(res[3][12].Key) != "p\x0012" {
				t.Errorf("range: %d keys %q", len(res[3]), res[3])
			}
			for i := 1; i < len(res[3]); i++ {
				if string(res[3][i-1].Key) >= string(res[3][i].Key) {
					t.Fatalf("range out of order: %q", res[3])
				}
			}
			if len(res[4]) != 3 || string(res[4][2].Key) != "p\x0002" {
				t.Errorf("limit 3: %q", res[4])
			}
			if _, err := db.Snapshot(context.Background(), store.Query{Bucket: "b", Limit: 0}); err == nil {
				t.Error("a query without a limit was taken")
			}
		})
	}
}
