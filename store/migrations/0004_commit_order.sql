-- The journal in commit order: write transactions that declare their
-- locks (store.Locks) commit side by side, so a journal key drawn first
-- may commit last. Each row keeps the id of the transaction that wrote it
-- first; a --follow reader pages by (txid, key) and stops below the
-- oldest transaction still running, so it never passes an entry that
-- commits later (store.DB.ScanCommitted).
ALTER TABLE kv ADD COLUMN txid xid8;
ALTER TABLE kv ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
UPDATE kv SET txid = '3'::xid8 WHERE bucket = 'journal';
CREATE INDEX kv_journal_commit_order ON kv (txid, key) WHERE bucket = 'journal';
