-- No query reads events by object: the index only cost every event insert.
DROP INDEX events_object;
