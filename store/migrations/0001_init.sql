-- deskmail's store on PostgreSQL: every bucket of the bbolt file becomes
-- rows of kv, ordered like bbolt (bytea compares byte by byte).
CREATE TABLE kv (
	bucket text COLLATE "C" NOT NULL,
	key bytea NOT NULL,
	value bytea NOT NULL,
	PRIMARY KEY (bucket, key)
);

-- Message bodies too large to keep inline (the bbolt backend's spool
-- folder), readable by every node.
CREATE TABLE bodies (
	name text PRIMARY KEY,
	data bytea NOT NULL,
	stored_at timestamptz NOT NULL DEFAULT now()
);
