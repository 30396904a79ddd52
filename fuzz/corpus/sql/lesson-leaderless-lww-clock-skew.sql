CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT);
INSERT INTO kv (k, v) VALUES ('x', 'from alice');
SELECT k, v FROM kv WHERE k = 'x';
UPDATE kv SET v = 'from bob' WHERE k = 'x';
SELECT k, v FROM kv WHERE k = 'x';