#!/usr/bin/env bash
# pg-waits.sh PORT SECONDS: samples every active client backend of the cluster every
# 5 ms for SECONDS and prints the commonest waits (wait_event_type:wait_event)
# with the start of the query. Run it beside a benchmark on a cluster of its own.
PORT=$1; SECS=$2
psql -h 127.0.0.1 -p $PORT -U postgres -d postgres -Atq <<SQL
CREATE TEMP TABLE s(n int, w text, q text);
DO \$\$
DECLARE i int;
BEGIN
  FOR i IN 1..($SECS*200) LOOP
    PERFORM pg_stat_clear_snapshot();
    INSERT INTO s SELECT i, coalesce(wait_event_type,'CPU')||':'||coalesce(wait_event,'-'), left(query,30)
      FROM pg_stat_activity WHERE state='active' AND backend_type='client backend' AND pid<>pg_backend_pid() AND query NOT LIKE '%pg_stat_activity%';
    PERFORM pg_sleep(0.005);
  END LOOP;
END \$\$;
SELECT count(DISTINCT n)||' samples with an active backend, '||count(*)||' backend samples' FROM s;
SELECT count(*), w, q FROM s GROUP BY w, q ORDER BY 1 DESC LIMIT 8;
SQL
