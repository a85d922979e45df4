package store

import (
	"bytes"
	"context"
)

// BucketSecrets holds the secrets every node of a shared store must agree
// on (reply-token keys, the loop marker's key, the webhook key, the API
// token, the person tokens' key), by the name of the data-folder file each
// is copied to.
const BucketSecrets = "node_secrets"

// ReadSharedSecret reads a shared secret file's content from the database
// named by storeSpec (nil when no node has stored it yet), for offline
// commands.
func ReadSharedSecret(ctx context.Context, storeSpec, name string) ([]byte, error) {
	db, err := OpenStore(storeSpec, "", Options{ReadOnly: true, NoMigrate: true})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var v []byte
	err = db.View(ctx, func(tx *Tx) error { v = bytes.Clone(tx.Get(BucketSecrets, []byte(name))); return nil })
	return v, err
}
