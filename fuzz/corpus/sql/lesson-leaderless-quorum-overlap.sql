CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT);
INSERT INTO kv (k, v) VALUES ('x', 'v0');
UPDATE kv SET v = 'v1' WHERE k = 'x';
SELECT k, v FROM kv WHERE k = 'x';
UPDATE kv SET v = 'v2' WHERE k = 'x';
SELECT k, v FROM kv WHERE k = 'x';