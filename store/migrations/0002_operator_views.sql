-- Operators read the 72-hour log and the queue with SQL: typed columns
-- over the JSON records the nodes write (see docs/OPERATIONS.md).

CREATE VIEW deskmail_log AS
SELECT
	v->>'id' AS id,
	(v->>'time')::timestamptz AS time,
	v->>'direction' AS direction,
	v->>'status' AS status,
	nullif(v->>'envelope_from', '') AS envelope_from,
	ARRAY(SELECT jsonb_array_elements_text(coalesce(v->'envelope_to', '[]'::jsonb))) AS envelope_to,
	v->>'from' AS header_from,
	v->>'subject' AS subject,
	v->>'class' AS class,
	v->>'action' AS action,
	v->>'reason' AS reason,
	v->>'conversation' AS conversation,
	v->>'message_id' AS message_id,
	(v->>'size')::bigint AS size,
	v->>'remote_ip' AS remote_ip,
	v->>'proto' AS proto,
	v->>'job' AS job,
	(v->>'next_attempt')::timestamptz AS next_attempt
FROM (SELECT convert_from(value, 'UTF8')::jsonb AS v FROM kv WHERE bucket = 'journal') AS e;

CREATE VIEW deskmail_queue AS
SELECT
	v->>'id' AS id,
	v->>'kind' AS kind,
	v->>'state' AS state,
	v->>'person' AS person,
	v->>'to' AS recipient,
	v->>'conversation' AS conversation,
	v->>'subject' AS subject,
	jsonb_array_length(coalesce(v->'messages', '[]'::jsonb)) AS messages,
	(v->>'attempts')::integer AS attempts,
	(v->>'due')::timestamptz AS next_attempt,
	nullif(v->>'reason', '') AS last_error,
	(v->>'created')::timestamptz AS created,
	(v->>'updated')::timestamptz AS updated
FROM (SELECT convert_from(value, 'UTF8')::jsonb AS v FROM kv WHERE bucket = 'queue_jobs') AS j;
