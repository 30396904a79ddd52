CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO docs (id, body) VALUES (1, 'Minutes.');
UPDATE docs SET body = 'Minutes. Ann: budget approved.' WHERE id = 1;
UPDATE docs SET body = 'Minutes. Bob: launch moved to May.' WHERE id = 1;
SELECT body FROM docs WHERE id = 1;
SELECT body FROM docs WHERE id = 1;