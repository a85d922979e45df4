package httpapi

import (
	"errors"
	"io"
	"net/http"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// getOriginal answers GET /v1/messages/{id}/original: the email a message
// came from, byte for byte as stored (with the Received header deskmail
// added), as message/rfc822. A message's text is the stripped reply
// (docs/THREADING.md section 6); this is where the quotes, signatures and
// every other part still are (SPEC section 5: "the full original stays
// available"). A message posted in the web app has none: 404.
func (s *Server) getOriginal(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	m, err := store.ViewValue(r.Context(), s.DB, func(tx *store.Tx) (model.Message, error) { return model.GetMessage(tx, id) })
	if err != nil {
		s.writeStoreError(w, r, "read message", err)
		return
	}
	if m.Original == "" {
		writeError(w, http.StatusNotFound, "", "message "+id+" did not come by email: no original")
		return
	}
	meta, err := inbound.Load(r.Context(), s.DB, m.Original)
	var rc io.ReadCloser
	if err == nil {
		rc, err = inbound.OpenRaw(r.Context(), s.DB, meta)
	}
	switch {
	case errors.Is(err, inbound.ErrNotFound):
		writeError(w, http.StatusNotFound, "", "the original email of message "+id+" is no longer stored")
		return
	case err != nil:
		s.writeStoreError(w, r, "read original", err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "message/rfc822")
	h.Set("Content-Disposition", `attachment; filename="`+id+`.eml"`)
	h.Set("X-Content-Type-Options", "nosniff")
	if _, err := io.Copy(w, rc); err != nil {
		s.Log.Warn("send original", "message", id, "err", err)
	}
}
