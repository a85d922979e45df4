-- Room on every page of kv for the updates that follow an insert: a
-- pending email's claim, its journal entry's and its record's updates
-- within the second. An update that finds room on its row's page is a
-- HOT update: no new entry in kv's indexes (the primary key, the
-- journal's commit order), a smaller WAL record, and nothing for vacuum
-- to remove from them later. At the default (100) most of those updates
-- found their page full. Pages written from now on keep a quarter free;
-- pages written before keep what they have.
ALTER TABLE kv SET (fillfactor = 75);
