-- The log view gains the ids that lead from SQL to `deskmail why` and
-- `deskmail conversations show`: the conversation messages an email
-- became, the stored email's id, the person it was attributed to, how it
-- was threaded and its authentication results. New columns go last, as
-- CREATE OR REPLACE VIEW requires.

CREATE OR REPLACE VIEW deskmail_log AS
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
	(v->>'next_attempt')::timestamptz AS next_attempt,
	ARRAY(SELECT jsonb_array_elements_text(coalesce(v->'messages', '[]'::jsonb))) AS messages,
	v->>'stored_id' AS stored_id,
	v->>'person' AS person,
	v->>'thread_by' AS thread_by,
	v->>'auth' AS auth
FROM (SELECT convert_from(value, 'UTF8')::jsonb AS v FROM kv WHERE bucket = 'journal') AS e;
