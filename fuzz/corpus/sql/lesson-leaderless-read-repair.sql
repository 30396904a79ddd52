CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT);
INSERT INTO kv (k, v) VALUES ('x', 'old');
UPDATE kv SET v = 'new' WHERE k = 'x';
SELECT k, v FROM kv WHERE k = 'x';
SELECT k, v FROM kv WHERE k = 'x';